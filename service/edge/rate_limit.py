"""Per-client rate limits (token buckets, in memory or shared SQLite) and the cap on chats in progress."""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
import threading
import time
from collections import OrderedDict
from pathlib import Path

from fastapi import HTTPException

from service.edge.asgi import CHAT_PATHS, INGEST_PATHS, header, send_json
from service.settings import ServiceSettings


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


def client_key(scope, settings: ServiceSettings) -> str:
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

    def __init__(self, app, settings: ServiceSettings):
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
