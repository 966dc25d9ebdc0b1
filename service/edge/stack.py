"""The edge, assembled (`install`): input limits, body size, rate and concurrency limits, deadlines, CORS,
request ids with one JSON log line per request, and a catch-all 500 that tells nothing away.

Each guard is a small pure-ASGI middleware in its own module, added here in this order:

    Metrics (outermost, service/ops/metrics.py) → RequestLog → CORS → Limits → BodyLimit → the app

so the log line and `X-Request-ID` cover every answer, 413/429/503 carry CORS headers, and
rate limits are checked before a byte of the body is read. A chat counts toward the concurrency
cap only once its body is in, and a body must arrive within BODY_TIMEOUT (408): a client that
stalls mid-body holds a connection for a bounded time and never a chat slot. The request head
is bounded by the HTTP protocol (service/edge/connections.py). Rate limits are in-process token buckets
(per worker: with N workers a client gets up to N times the rate) unless RATE_LIMIT_STORE names
a SQLite file that the workers of one host share.
"""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware

from service.edge.body_limit import BodyLimit
from service.edge.rate_limit import Limits
from service.edge.request_log import RequestLog, configure_access_log
from service.settings import ServiceSettings


def install(app, settings: ServiceSettings) -> None:
    """Add the guards to the app (call before the metrics middleware, which stays outermost)."""
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes,
                       max_upload_bytes=settings.max_upload_request_bytes, body_timeout=settings.body_timeout)
    app.add_middleware(Limits, settings=settings)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins,
            allow_credentials=settings.cors_allow_credentials and "*" not in settings.cors_origins,
            allow_methods=["GET", "POST"], allow_headers=["Content-Type", "X-API-Key", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"], max_age=600,
        )
    secrets = (settings.api_key.get_secret_value() if settings.api_key else "", settings.llm_api_key,
               *settings.chroma_headers.values())
    app.add_middleware(RequestLog, secrets=secrets)
    if settings.access_log:
        configure_access_log()
