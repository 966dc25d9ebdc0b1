"""Hardening at the edge: input limits, body size, rate and concurrency limits, deadlines, CORS,
request ids with one JSON log line per request, and a catch-all 500 that tells nothing away.

Everything here is small pure-ASGI middleware or a plain function, installed by `install`:

    Metrics (outermost, service.metrics) → RequestLog → CORS → Limits → BodyLimit → the app

so the log line and `X-Request-ID` cover every answer, 413/429/503 carry CORS headers, and
rate limits are checked before a byte of the body is read. A chat counts toward the concurrency
cap only once its body is in, and a body must arrive within BODY_TIMEOUT (408): a client that
stalls mid-body holds a connection for a bounded time and never a chat slot. The request head
is bounded by the HTTP protocol (service/serving.py). Rate limits are in-process token buckets
(per worker: with N workers a client gets up to N times the rate) unless RATE_LIMIT_STORE names
a SQLite file that the workers of one host share.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import sqlite3
import sys
import threading
import time
import traceback
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable
from contextlib import aclosing
from contextvars import ContextVar
from pathlib import Path
from typing import TypeVar

from fastapi import HTTPException
from starlette.middleware.cors import CORSMiddleware

from ingest.config import Settings
from service.generate import LLMTimeout
from service.schemas import ChatRequest

access_log = logging.getLogger("service.access")
CHAT_PATHS = frozenset({"/v1/chat", "/v1/chat/completions"})
INGEST_PATHS = frozenset({"/v1/ingest", "/v1/transcripts"})
UPLOAD_PATH = "/v1/transcripts"
INTERNAL_ERROR = "Internal error: the service could not answer this request. It is logged under the request id."
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_INVISIBLE = re.compile("[\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\U000e0000-\U000e007f]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
T = TypeVar("T")


# --- input checks (before any embedding or LLM call) -----------------------------------------
def check_input(request: ChatRequest, settings: Settings) -> None:
    """422/413 for a question or conversation over the caps, or text with control characters."""
    if not _INVISIBLE.sub("", request.question).strip():
        raise HTTPException(422, "messages[-1].content: the question is empty (it has only invisible "
                                 "characters): write a question in the last user message")
    length = len(request.question)
    if length > settings.max_question_chars:
        raise HTTPException(
            422,
            f"messages[-1].content: the question is {length:,} characters long; the limit is "
            f"{settings.max_question_chars:,}. Shorten it and ask again.",
        )
    turns = len(request.messages)
    if turns > settings.max_turns:
        raise HTTPException(
            422, f"messages: the conversation has {turns} messages; the limit is {settings.max_turns}. "
                 "Send only the recent turns, or start a new conversation.")
    for i, m in enumerate(request.messages):
        if bad := _CONTROL.search(m.content):
            raise HTTPException(
                422, f"messages[{i}].content: contains the control character U+{ord(bad.group()):04X}; "
                     "send plain text")
    total = sum(len(m.content) for m in request.messages)
    if total > settings.max_conversation_chars:
        raise HTTPException(
            413, f"messages: the conversation is {total:,} characters long; the limit is "
                 f"{settings.max_conversation_chars:,}. Send only the recent turns, or start a new conversation.")


# --- deadlines ------------------------------------------------------------------------------
class RequestTimeout(LLMTimeout):
    """The whole answer (retrieval and generation) took longer than REQUEST_TIMEOUT: a 504, or an
    `error` event in a stream (reported like an LLM timeout, whatever was slow)."""

    def __init__(self, seconds: float):
        super().__init__(f"The answer took longer than the service's limit of {seconds:g} s "
                         "(REQUEST_TIMEOUT) and was stopped. Try again, or ask a shorter question.")


async def deadline(awaitable: Awaitable[T], seconds: float) -> T:
    """Await within `seconds` (0: no limit), else RequestTimeout. Work in a thread is abandoned,
    not killed: the event loop stays free and the thread finishes on its own."""
    if not seconds:
        return await awaitable
    try:
        async with asyncio.timeout(seconds):
            return await awaitable
    except TimeoutError:
        raise RequestTimeout(seconds) from None


async def deadline_stream(events: AsyncIterator[T], seconds: float) -> AsyncIterator[T]:
    """Pass events through until `seconds` from now; then close the source (which cancels an LLM
    request) and raise RequestTimeout, which the SSE layers send as an `error` event."""
    stop = asyncio.get_running_loop().time() + seconds if seconds else None
    async with aclosing(events) as stream:
        while True:
            try:
                async with asyncio.timeout_at(stop):
                    event = await anext(stream)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise RequestTimeout(seconds) from None
            yield event


# --- ASGI helpers ---------------------------------------------------------------------------
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


# --- request id, JSON access log, catch-all 500 ----------------------------------------------
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


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


# --- body size and type ------------------------------------------------------------------------------
class BodyLimit:
    """415 for a chat request that is not JSON; 413 for a body over the limit: at once from
    Content-Length (nothing of it is read), or as soon as a chunked body's bytes pass it; 408
    when the body has not arrived in full `body_timeout` seconds after the request began."""

    def __init__(self, app, max_bytes: int, max_upload_bytes: int, body_timeout: float = 60.0):
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes
        self.body_timeout = body_timeout

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path")
        if path in CHAT_PATHS and scope.get("method") == "POST" and not _is_json(header(scope, b"content-type")):
            return await send_json(send, 415, {"detail": "send the chat request as JSON, with the header "
                                                         "Content-Type: application/json"})
        limit = self.max_upload_bytes if path == UPLOAD_PATH else self.max_bytes
        detail = f"the request body is larger than this endpoint's limit of {limit:,} bytes"
        declared = header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit():
                return await send_json(send, 400, {"detail": "Content-Length is not a number"})
            if int(declared) > limit:
                return await send_json(send, 413, {"detail": detail}, {"Connection": "close"})
        seen, complete = 0, False
        deadline = asyncio.get_running_loop().time() + self.body_timeout

        async def counted():
            nonlocal seen, complete
            if complete:  # later calls only wait for a disconnect (streams): no deadline
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:  # FastAPI re-raises HTTPException from reading the body
                raise HTTPException(408, f"the request body did not arrive in full within "
                                         f"{self.body_timeout:g} s (the service's BODY_TIMEOUT); send "
                                         "the whole body at once", headers={"Connection": "close"}) from None
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HTTPException(413, detail, headers={"Connection": "close"})
            return message

        await self.app(scope, counted, send)


# --- rate and concurrency limits ------------------------------------------------------------
class MemoryBuckets:
    """Token buckets in this process (each worker has its own)."""

    def __init__(self, max_keys: int = 10_000):
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()
        self.max_keys = max_keys

    def take(self, key: str, per_second: float, burst: int) -> float:
        """Take a token: 0.0 when allowed, else seconds until one is there."""
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.pop(key, (float(burst), now))
            tokens = min(float(burst), tokens + (now - at) * per_second)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / per_second
            self._buckets[key] = (tokens - 1 if not wait else tokens, now)
            while len(self._buckets) > self.max_keys:  # forget the least recently seen clients
                self._buckets.popitem(last=False)
        return wait


class SqliteBuckets:
    """Token buckets in a SQLite file, shared by the workers of one host (RATE_LIMIT_STORE)."""

    def __init__(self, path: Path):
        self.path = str(path)
        db = self._connect()
        try:
            db.execute("CREATE TABLE IF NOT EXISTS buckets (key TEXT PRIMARY KEY, tokens REAL, at REAL)")
        finally:
            db.close()

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=5, isolation_level=None)

    def take(self, key: str, per_second: float, burst: int) -> float:
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            now = time.time()
            row = db.execute("SELECT tokens, at FROM buckets WHERE key = ?", (key,)).fetchone()
            tokens = float(burst) if row is None else min(float(burst), row[0] + max(0.0, now - row[1]) * per_second)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / per_second
            db.execute("INSERT OR REPLACE INTO buckets VALUES (?, ?, ?)", (key, tokens - 1 if not wait else tokens, now))
            db.execute("COMMIT")
        finally:
            db.close()
        return wait


def client_key(scope, settings: Settings) -> str:
    """Who a limit counts: the API key when it is configured and sent correctly, else the address."""
    expected = settings.api_key.get_secret_value() if settings.api_key else None
    sent = header(scope, b"x-api-key")
    if expected and sent and hmac.compare_digest(sent.encode(), expected.encode()):
        return "key:" + hashlib.sha256(sent.encode()).hexdigest()[:16]
    client = scope.get("client")
    return f"ip:{client[0] if client else 'unknown'}"


class Limits:
    """Per-client rate limits on chat and ingest (429 + Retry-After) and a cap on answers in
    progress in this worker (a fast 503 + Retry-After past it). A chat is in progress from the
    moment its body is in (a stalled body takes no slot) until its response ends."""

    def __init__(self, app, settings: Settings):
        self.app = app
        self.settings = settings
        self.buckets = SqliteBuckets(settings.rate_limit_store) if settings.rate_limit_store else MemoryBuckets()
        self.active = 0  # chat requests in progress (streams until their last event)

    def _rate(self, group: str) -> tuple[float, int]:
        s = self.settings
        return (s.chat_rate_limit, s.chat_rate_burst) if group == "chat" else (s.ingest_rate_limit, s.ingest_rate_burst)

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] != "http" or scope.get("method") != "POST" or path not in CHAT_PATHS | INGEST_PATHS:
            return await self.app(scope, receive, send)
        group = "chat" if path in CHAT_PATHS else "ingest"
        per_minute, burst = self._rate(group)
        if per_minute:
            wait = self.buckets.take(f"{group}|{client_key(scope, self.settings)}", per_minute / 60, burst)
            if wait:
                retry = max(1, int(wait + 0.999))
                return await send_json(send, 429, {
                    "detail": f"too many {group} requests from this client (limit {per_minute:g} a minute, "
                              f"bursts of {burst}); try again in {retry} s"}, {"Retry-After": str(retry)})
        cap = self.settings.max_concurrent_chats if group == "chat" else 0
        if not cap:
            return await self.app(scope, receive, send)
        counted = False

        async def receive_counted():
            """Take a slot when the last piece of the body arrives (FastAPI answers the 503)."""
            nonlocal counted
            message = await receive()
            if not counted and message["type"] == "http.request" and not message.get("more_body", False):
                if self.active >= cap:
                    raise HTTPException(503, f"the service is answering {cap} questions already (its limit); "
                                             "try again in a moment", headers={"Retry-After": "1"})
                self.active += 1
                counted = True
            return message

        try:
            await self.app(scope, receive_counted, send)
        finally:
            if counted:
                self.active -= 1


# --- wiring ---------------------------------------------------------------------------------
def install(app, settings: Settings) -> None:
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
