"""Status: GET /health (liveness and a summary), GET /ready (the store answers), GET /metrics
(Prometheus) and GET /v1/starters."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from ingest.store import CHUNK_SUFFIX
from service.api.deps import PipelineDep, SettingsDep
from service.api.schemas import Health
from service.ops import metrics
from service.ops import store_health as store

router = APIRouter(tags=["status"])


def public_model_name(model: str) -> str:
    """A hub name as it is; a local model folder by its last part only (no server paths)."""
    return f"{Path(model).name} (local folder)" if Path(model).expanduser().exists() else model


@router.get("/health", response_model=Health)
def health(pipeline: PipelineDep, settings: SettingsDep) -> Health:
    retriever = pipeline.retriever
    problem = store.heartbeat(settings, retriever.client)  # reported, not fatal: /ready is the gate
    if problem and not settings.client_server:  # the error's text may name files: its type only
        problem = problem.split(":", 1)[0]
    return Health(
        status="degraded" if problem else "ok",
        chroma=f"unreachable: {problem}" if problem else "ok",
        transcripts=retriever.transcripts,
        chunks=len(retriever.docs),
        embedding_model=public_model_name(settings.embedding_model),
        answer_mode=settings.answer_mode,
        llm_model=settings.llm_model if settings.answer_mode == "llm" else None,
        store=f"chroma server {settings.chroma_host}:{settings.chroma_port}" if settings.client_server
        else f"embedded (collection {settings.collection}_{CHUNK_SUFFIX})",  # no path: /health has no key
        max_question_chars=settings.max_question_chars,  # the chat page stops a longer question itself
        max_turns=settings.max_turns,
        max_conversation_chars=settings.max_conversation_chars,
    )


@router.get("/v1/starters")
def starters(pipeline: PipelineDep, n: int = 4) -> dict:
    """Suggested first questions about the folder's topics, each of another kind and each one the
    service answers (service/rag/starters.py), spread across the transcripts."""
    return {"questions": pipeline.starters(max(1, min(n, 12)))}


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
