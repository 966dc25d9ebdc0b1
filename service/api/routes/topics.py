"""POST /v1/topics: which transcripts and speakers talk about a topic, and how much (a transcript ×
speaker map, each cell with its best quote; with `track`, one speaker's statements on it across the
transcripts). The work is in service/rag/topics.py; this route validates and runs it off the loop."""

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from service.api.deps import PipelineDep
from service.rag.chat_types import TopicRequest
from service.rag.library_types import TopicResult

router = APIRouter(tags=["topics"])


@router.post("/v1/topics", response_model=TopicResult, responses={
    422: {"description": "An invalid request, or `filters` or `track` that name a transcript or speaker the index "
                         "does not have (`detail` names them; GET /v1/transcripts lists the ids and speakers)."}})
async def topic_map(request: TopicRequest, pipeline: PipelineDep) -> TopicResult:
    """The transcripts, speakers and transcript × speaker cells whose turns are about `topic`, the
    most first, each with its number of turns and best sentence (`found` false, and nothing listed,
    when the transcripts do not cover it)."""
    return await run_in_threadpool(pipeline.topics, request)
