"""Request ids, one JSON log line per request (secrets redacted), and the catch-all 500."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import traceback
import uuid
from contextvars import ContextVar

from service.edge.asgi import header, send_json

access_log = logging.getLogger("service.access")
INTERNAL_ERROR = "Internal error: the service could not answer this request. It is logged under the request id."
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class _Stderr(logging.StreamHandler):
    """A handler writing to whatever sys.stderr is at the time (so capture tools see it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def configure_access_log() -> None:
    """`service.access` prints its JSON lines as they are (once, however many apps are built)."""
    if not any(isinstance(h, _Stderr) for h in access_log.handlers):
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("%(message)s"))
        access_log.addHandler(handler)
    access_log.setLevel(logging.INFO)


CURRENT_REQUEST: ContextVar[str] = ContextVar("request_id", default="")  # set by RequestLog
_SECRETS: set[str] = set()


def register_secrets(*secrets: str) -> None:
    """Strings (API keys) that must never reach a log line."""
    _SECRETS.update(s for s in secrets if s and len(s) >= 4)


def redact(text: str) -> str:
    for secret in _SECRETS:
        text = text.replace(secret, "[redacted]")
    return text


def log_json(level: int, **fields) -> None:
    """One JSON log line, with any registered secret redacted."""
    access_log.log(level, redact(json.dumps({"ts": round(time.time(), 3), **fields}, ensure_ascii=False)))


class RequestLog:
    """Gives every request an id (a sane incoming `X-Request-ID`, else a new one), returns it in
    `X-Request-ID`, logs one JSON line per request (never headers, query strings or bodies: no
    keys), and turns an unhandled exception into a generic 500 naming only the request id."""

    def __init__(self, app, secrets: tuple[str, ...] = ()):
        self.app = app
        register_secrets(*secrets)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        incoming = header(scope, b"x-request-id")
        rid = incoming if incoming and _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        CURRENT_REQUEST.set(rid)
        started, status, sent = time.perf_counter(), None, 0

        async def send_with_id(message):
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), (b"x-request-id", rid.encode())]}
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        error = None
        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:  # noqa: BLE001 - logged with its traceback, answered generically
            error = type(exc).__name__
            log_json(logging.ERROR, event="error", request_id=rid, error=error,
                     traceback=traceback.format_exc(limit=20))
            if status is None:
                await send_json(send_with_id, 500, {"detail": INTERNAL_ERROR, "request_id": rid})
        finally:
            client = scope.get("client")
            log_json(logging.INFO, event="request", request_id=rid, method=scope.get("method"),
                     path=scope.get("path"), status=status, ms=round((time.perf_counter() - started) * 1000, 1),
                     bytes=sent, client=client[0] if client else None, **({"error": error} if error else {}))
