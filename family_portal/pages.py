"""The family page itself (HTML); it shares the hub's stylesheet and script under /static."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

PAGE_DIR = Path(__file__).parent / "static"

router = APIRouter(include_in_schema=False)


@router.get("/family")
async def family_page() -> FileResponse:
    return FileResponse(PAGE_DIR / "family.html")
