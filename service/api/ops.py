"""GET /ready (readiness: the store answers) and GET /metrics (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from service import metrics, store

router = APIRouter(tags=["status"])


@router.get(
    "/ready",
    responses={503: {"description": "Not ready: the Chroma store does not answer (`detail` says why)."}},
)
def ready(request: Request) -> JSONResponse:
    """200 when the service can answer: its index is loaded and Chroma answers a heartbeat.

    For load balancers and orchestrators; `/health` stays 200 while the process is alive.
    """
    settings = request.app.state.settings
    pipeline = getattr(request.app.state, "pipeline", None)
    if pipeline is None:
        return JSONResponse({"ready": False, "detail": "the service is starting"}, status_code=503)
    problem = store.heartbeat(settings, pipeline.retriever.client)
    metrics.CHROMA_UP.set(0 if problem else 1)
    if problem:
        return JSONResponse(
            {"ready": False, "chroma": "unreachable", "detail": f"Chroma does not answer: {problem}"},
            status_code=503,
        )
    return JSONResponse({"ready": True, "chroma": "ok"})


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}})
def prometheus(request: Request) -> Response:
    """Request counts and latency per endpoint, time per stage, ingest counters, index size."""
    pipeline = getattr(request.app.state, "pipeline", None)
    if pipeline is not None:
        metrics.update_index_gauges(pipeline.retriever)
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
