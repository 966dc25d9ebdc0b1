"""The app factory: `create_app(settings)` builds the FastAPI app; the lifespan loads the heavy parts once."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from ingest.lock import StoreLock
from service.api.routes import chat, ingest, openai, status, topics, transcripts
from service.edge.ingest_auth import IngestAuth
from service.edge.page_headers import PAGE_HEADERS, PageHeaders
from service.edge.stack import install as install_edge
from service.ops import store_health as store
from service.ops.ingest_jobs import IngestManager
from service.ops.metrics import MetricsMiddleware, observe_stage
from service.rag.errors import AnswerError
from service.rag.pipeline import build_pipeline
from service.rag.stages import observing
from service.settings import ServiceSettings

STATIC = Path(__file__).parent / "static"
DOCS_ASSETS = "/static/docs"  # Swagger UI's files, shipped by the fastapi-offline package
log = logging.getLogger("service")


class UIFiles(StaticFiles):
    """The UI's files, revalidated on every load (`no-cache`: a 304 when unchanged), so that after an
    upgrade a browser never runs new ES modules beside cached old ones."""

    def file_response(self, *args, **kwargs):
        response = super().file_response(*args, **kwargs)
        response.headers.setdefault("Cache-Control", "no-cache")
        return response


def docs_page(openapi_url: str, title: str) -> tuple[bytes, dict[str, str]]:
    """/docs: Swagger UI from this server's own files (it works offline, loads nothing from a CDN),
    under the chat page's CSP plus the hash of the page's one inline script."""
    page = get_swagger_ui_html(openapi_url=openapi_url, title=title, swagger_ui_parameters={"validatorUrl": None},
                               swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                               swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                               swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png")
    inline = re.search(rb"<script>(.*?)</script>", page.body, re.DOTALL).group(1)
    digest = base64.b64encode(hashlib.sha256(inline).digest()).decode()
    csp = PAGE_HEADERS["Content-Security-Policy"].replace(
        "script-src 'self';", f"script-src 'self' 'sha256-{digest}';")
    return page.body, {**PAGE_HEADERS, "Content-Security-Policy": csp}


def _describe(errors) -> str:
    """One readable sentence per validation problem, naming the field."""
    parts = []
    for err in errors:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        msg = err.get("msg", "is invalid").removeprefix("Value error, ")
        if err.get("type") == "json_invalid":
            loc, msg = "body", f"the request body is not valid JSON ({err.get('ctx', {}).get('error', 'parse error')})"
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or ServiceSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        app.state.settings = settings
        with observing(observe_stage):  # the answer path's stage times, into /metrics while the app runs
            await run_in_threadpool(store.wait_for_chroma, settings)  # bounded: CHROMA_CONNECT_*
            lock = None
            if not settings.client_server:  # embedded Chroma: this process is the only writer
                lock = StoreLock(settings.chroma_path)
                lock.acquire(kind="service", url=f"http://{settings.host}:{settings.port}")
            try:
                app.state.pipeline = build_pipeline(settings)
                app.state.ingest = IngestManager(settings, app.state.pipeline.retriever)
                log.info("ready: %d chunks", len(app.state.pipeline.retriever.docs))
                yield
            finally:
                if lock:
                    lock.release()
            await app.state.pipeline.aclose()

    app = FastAPI(
        title="Transcript chat",
        description="Grounded, cited answers from interview transcripts.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served below from local files; ReDoc (CDN only) is not served
        redoc_url=None,
    )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": _describe(exc.errors())})

    @app.exception_handler(AnswerError)
    async def answer_error(request: Request, exc: AnswerError) -> JSONResponse:
        return JSONResponse(status_code=exc.status, content={"detail": exc.detail})

    async def store_unavailable(request: Request, exc: Exception) -> JSONResponse:
        """Chroma went away mid-run: 503 with a message, no stack trace; the client reconnects later."""
        if not (settings.client_server and store.is_store_error(exc)):
            raise exc
        log.warning("%s %s: Chroma unreachable (%s: %s)", request.method, request.url.path, type(exc).__name__, exc)
        return JSONResponse(status_code=503, content={"detail": store.unavailable_detail(settings)},
                            headers={"Retry-After": "5"})

    for error in store.STORE_ERRORS:
        app.add_exception_handler(error, store_unavailable)
    app.add_middleware(IngestAuth, settings=settings)  # ingest keys, before the body is read
    install_edge(app, settings)  # limits, CORS, request ids and the JSON access log, catch-all 500
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(PageHeaders)  # CSP and nosniff on every HTML page, nosniff on every response

    app.include_router(status.router)
    app.include_router(chat.router)
    app.include_router(ingest.router)
    app.include_router(openai.router)
    app.include_router(transcripts.router)
    app.include_router(topics.router)
    app.mount(DOCS_ASSETS, StaticFiles(packages=[("fastapi_offline", "static")]), name="docs-assets")
    app.mount("/static", UIFiles(directory=STATIC), name="static")
    docs_body, docs_headers = docs_page(app.openapi_url, f"{app.title} - API")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(docs_body, headers=docs_headers)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)

    return app
