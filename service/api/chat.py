"""POST /v1/chat: retrieve passages and answer from them with citations (JSON, or SSE when streaming)."""

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from sse_starlette import EventSourceResponse

from ingest.config import Settings
from service import guard
from service.api.deps import PipelineDep, SettingsDep
from service.schemas import ChatRequest, ChatResponse
from service.streaming import chat_sse

router = APIRouter(tags=["chat"])

ERRORS = {
    502: {"description": "The LLM server answered with an error (`detail` says what)."},
    503: {"description": "The LLM server cannot be reached (llm mode)."},
    504: {"description": "The LLM server, or the whole answer (REQUEST_TIMEOUT), did not finish in time."},
}
STREAM_DOC = {200: {"content": {"text/event-stream": {}}, "description": "The answer; with `\"stream\": true`, "
                    "Server-Sent Events `sources`, `token`…, then `done` (or `error`)."}}


def check_limits(request: ChatRequest, settings: Settings) -> None:
    """Reject oversized or malformed input before any embedding is computed (service.guard)."""
    guard.check_input(request, settings)


@router.post("/v1/chat", response_model=ChatResponse, responses={**STREAM_DOC, **ERRORS})
async def chat(request: ChatRequest, pipeline: PipelineDep, settings: SettingsDep):
    check_limits(request, settings)
    if request.stream:
        events = guard.deadline_stream(pipeline.astream(request), settings.request_timeout)
        return EventSourceResponse(chat_sse(events))
    return await guard.deadline(run_in_threadpool(pipeline.run, request), settings.request_timeout)
