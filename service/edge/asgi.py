"""What the edge middleware share: the paths they guard and raw-ASGI reply/header helpers."""

from __future__ import annotations

import json

CHAT_PATHS = frozenset({"/v1/chat", "/v1/chat/completions"})
INGEST_PATHS = frozenset({"/v1/ingest", "/v1/transcripts"})
UPLOAD_PATH = "/v1/transcripts"
INTERNAL_ERROR = "Internal error: the service could not answer this request. It is logged under the request id."


async def send_json(send, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
    data = json.dumps(body, ensure_ascii=False).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


def header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def request_id(scope) -> str:
    return scope.get("state", {}).get("request_id", "")


def is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))
