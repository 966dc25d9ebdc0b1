"""Prometheus metrics: requests and latency per endpoint, time per pipeline stage, index size.

`GET /metrics` serves them in the Prometheus text format. With several uvicorn workers, set
PROMETHEUS_MULTIPROC_DIR to an empty folder before start-up and every worker's numbers are
summed on each scrape (prometheus-client's multiprocess mode); otherwise a scrape sees the
worker that answered it.
"""

from __future__ import annotations

import os
import time
from contextlib import suppress

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    PLATFORM_COLLECTOR,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

import ingest.metrics  # noqa: F401 - registers the ingest counters with the same registry
from service.rag.stages import STAGES

# python_info names the interpreter and its exact version: nothing a dashboard needs, and a
# hint for an attacker (/metrics has no key). The process_* and python_gc_* series stay.
with suppress(KeyError):  # unregistered already
    REGISTRY.unregister(PLATFORM_COLLECTOR)

_FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter(
    "rag_http_requests_total", "HTTP requests, by method, endpoint (route template) and status.",
    ["method", "endpoint", "status"],
)
LATENCY = Histogram(
    "rag_http_request_duration_seconds", "Time from request to the end of the response, per endpoint.",
    ["method", "endpoint"], buckets=(*_FAST, 30.0, 60.0, 120.0),
)
STAGE = Histogram("rag_stage_duration_seconds", "Time spent per pipeline stage.", ["stage"],
                  buckets=(*_FAST, 30.0, 60.0))
for _stage in STAGES:
    STAGE.labels(_stage)
INDEX_CHUNKS = Gauge("rag_index_chunks", "Chunks in this worker's view of the index.", multiprocess_mode="livemax")
INDEX_TRANSCRIPTS = Gauge("rag_index_transcripts", "Transcripts in this worker's view of the index.",
                          multiprocess_mode="livemax")
INDEX_VERSION = Gauge("rag_index_version", "Index version this worker answers from.", multiprocess_mode="livemax")
CHROMA_UP = Gauge("rag_chroma_up", "1 when the last readiness check reached Chroma, else 0.",
                  multiprocess_mode="livemin")


def observe_stage(stage: str, seconds: float) -> None:
    """The answer path's observer (service/rag/stages.py; the app's lifespan registers it)."""
    STAGE.labels(stage).observe(seconds)


def endpoint_of(scope) -> str:
    """The route template that served a request (bounded label values: never the raw path)."""
    route = scope.get("route")
    if route is not None and getattr(route, "path", None):
        return route.path
    path = scope.get("path", "")
    return "/static" if path.startswith("/static/") else "unmatched"


class MetricsMiddleware:
    """Pure ASGI middleware: counts every HTTP request and times it until the response ends
    (the whole stream for Server-Sent Events)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            endpoint, method = endpoint_of(scope), scope.get("method", "")
            REQUESTS.labels(method, endpoint, str(status)).inc()
            LATENCY.labels(method, endpoint).observe(time.perf_counter() - started)


def update_index_gauges(retriever) -> None:
    INDEX_CHUNKS.set(len(retriever.docs))
    INDEX_TRANSCRIPTS.set(retriever.transcripts)
    snap = getattr(retriever, "snap", None)
    if snap is not None and isinstance(getattr(snap, "version", None), int):
        INDEX_VERSION.set(snap.version)


def render() -> tuple[bytes, str]:
    """The exposition text (all workers' when PROMETHEUS_MULTIPROC_DIR is set) and its content type."""
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST
