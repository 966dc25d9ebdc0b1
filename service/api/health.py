"""GET /health and GET /v1/starters."""

from pathlib import Path

from fastapi import APIRouter

from ingest.index import CHUNK_SUFFIX
from service import store
from service.api.deps import PipelineDep, SettingsDep
from service.schemas import Health

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
    )


@router.get("/v1/starters")
def starters(pipeline: PipelineDep, n: int = 4) -> dict:
    """Suggested first questions, taken from the interviewers' own questions in the index."""
    return {"questions": pipeline.retriever.starters(max(1, min(n, 12)))}
