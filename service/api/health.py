"""GET /health and GET /v1/starters."""

from fastapi import APIRouter

from ingest.index import CHUNK_SUFFIX
from service import store
from service.api.deps import PipelineDep, SettingsDep
from service.schemas import Health

router = APIRouter(tags=["status"])


@router.get("/health", response_model=Health)
def health(pipeline: PipelineDep, settings: SettingsDep) -> Health:
    retriever = pipeline.retriever
    problem = store.heartbeat(settings, retriever.client)  # reported, not fatal: /ready is the gate
    return Health(
        status="degraded" if problem else "ok",
        chroma=f"unreachable: {problem}" if problem else "ok",
        transcripts=retriever.transcripts,
        chunks=len(retriever.docs),
        embedding_model=settings.embedding_model,
        answer_mode=settings.answer_mode,
        llm_model=settings.llm_model if settings.answer_mode == "llm" else None,
        store=f"chroma server {settings.chroma_host}:{settings.chroma_port}" if settings.client_server
        else f"embedded ({settings.chroma_path}, collection {settings.collection}_{CHUNK_SUFFIX})",
    )


@router.get("/v1/starters")
def starters(pipeline: PipelineDep, n: int = 4) -> dict:
    """Suggested first questions, taken from the interviewers' own questions in the index."""
    return {"questions": pipeline.retriever.starters(max(1, min(n, 12)))}
