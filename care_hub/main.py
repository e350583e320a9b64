"""The one place where the app is assembled: `create_app(settings)`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from care_hub.api import alerts, auth, presence, provisioning, push, screens, system, ws
from care_hub.api.webpush import WebPush
from care_hub.hub import Hub
from care_hub.kernel.i18n import LANGUAGES, catalogue
from care_hub.kernel.settings import Settings
from care_records import views as care_views
from family_portal import pages as family_pages
from family_portal import views as family_views
from video import views as video_views
from video.switchboard import Switchboard

STATIC_DIR = Path(__file__).parent / "static"


def create_app(settings: Settings | None = None, *, db_schema: str | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub = await Hub.start(settings, db_schema=db_schema)
        app.state.hub = hub
        app.state.video = Switchboard(hub)
        app.state.push = None
        try:
            # Web Push to families on escalation (care_hub/api/webpush.py), hooked on the bus.
            app.state.push = WebPush(
                session_factory=hub.session_factory,
                data_dir=settings.data_dir,
                allow_local=settings.environment != "production",
            )
            hub.bus.on_published.append(app.state.push.on_event)
            await app.state.video.start()
            yield
        finally:
            if app.state.push is not None:
                hub.bus.on_published.remove(app.state.push.on_event)
                await app.state.push.drain()
            await app.state.video.close()
            await hub.stop()

    app = FastAPI(
        title="care-hub",
        version="0.1.0",
        lifespan=lifespan,
        description="Elderly-care monitoring hub: device ingest, alerts, wall screens, family portal.",
        # The docs page is served below from local assets: a care home's network may be offline.
        docs_url=None,
        redoc_url=None,
    )
    for module in (auth, provisioning, alerts, system, screens, presence, push):
        app.include_router(module.router)
    app.include_router(ws.router)
    app.include_router(family_views.router)
    app.include_router(family_pages.router)
    app.include_router(care_views.router)
    app.include_router(video_views.router)

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

        # A caregiver's phone: the same page, laid out for one hand (wall.html reads the path).
        @app.get("/phone", include_in_schema=False)
        async def phone() -> FileResponse:
            return FileResponse(STATIC_DIR / "wall.html")

        @app.get("/admin", include_in_schema=False)
        async def admin() -> FileResponse:
            return FileResponse(STATIC_DIR / "admin.html")

        # The push service worker must be served from the root to control every page.
        @app.get("/sw.js", include_in_schema=False)
        async def service_worker() -> FileResponse:
            return FileResponse(
                STATIC_DIR / "sw.js",
                media_type="text/javascript",
                headers={"Cache-Control": "no-cache"},
            )

    _mount_docs(app)

    return app


def _mount_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the `swagger-ui-bundle` package's files, never from a CDN."""
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:  # the package is a dependency; without it /docs is simply absent
        return
    app.mount("/swagger-ui", StaticFiles(directory=swagger_ui_path), name="swagger")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url="/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/swagger-ui/favicon-32x32.png",
        )
