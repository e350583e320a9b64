"""The one place where the app is assembled: `create_app(settings)`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from care_hub.api import alerts, auth, provisioning, system, ws
from care_hub.hub import Hub
from care_hub.kernel.i18n import LANGUAGES, catalogue
from care_hub.kernel.settings import Settings
from family_portal import pages as family_pages
from family_portal import views as family_views

STATIC_DIR = Path(__file__).parent / "static"


def create_app(settings: Settings | None = None, *, db_schema: str | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub = await Hub.start(settings, db_schema=db_schema)
        app.state.hub = hub
        try:
            yield
        finally:
            await hub.stop()

    app = FastAPI(
        title="care-hub",
        version="0.1.0",
        lifespan=lifespan,
        description="Elderly-care monitoring hub: device ingest, alerts, wall screens, family portal.",
    )
    for module in (auth, provisioning, alerts, system):
        app.include_router(module.router)
    app.include_router(ws.router)
    app.include_router(family_views.router)
    app.include_router(family_pages.router)
    @app.get("/locales/{lang}.json", include_in_schema=False)
    async def locale(lang: str) -> JSONResponse:
        """A language's whole catalogue (zh-CN, en): the pages translate with it, as the server
        does."""
        if lang not in LANGUAGES:
            return JSONResponse({"detail": f"no catalogue for {lang!r}"}, status_code=404)
        return JSONResponse(catalogue(lang), headers={"Cache-Control": "max-age=300"})

    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

        @app.get("/", include_in_schema=False)
        async def index() -> FileResponse:
            return FileResponse(STATIC_DIR / "index.html")

        @app.get("/wall", include_in_schema=False)
        async def wall() -> FileResponse:
            return FileResponse(STATIC_DIR / "wall.html")

    return app
