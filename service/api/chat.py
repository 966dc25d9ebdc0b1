"""POST /v1/chat: retrieve passages and answer from them with citations (JSON, or SSE when streaming)."""

from fastapi import APIRouter, HTTPException
from fastapi.concurrency import run_in_threadpool
from sse_starlette import EventSourceResponse

from service.api.deps import PipelineDep, SettingsDep
from service.schemas import ChatRequest, ChatResponse
from service.streaming import chat_sse

router = APIRouter(tags=["chat"])

ERRORS = {
    502: {"description": "The LLM server answered with an error (`detail` says what)."},
    503: {"description": "The LLM server cannot be reached (llm mode)."},
    504: {"description": "The LLM server did not answer in time (llm mode)."},
}
STREAM_DOC = {200: {"content": {"text/event-stream": {}}, "description": "The answer; with `\"stream\": true`, "
                    "Server-Sent Events `sources`, `token`…, then `done` (or `error`)."}}


def check_limits(request: ChatRequest, max_chars: int) -> None:
    """Reject oversized input before any embedding is computed."""
    length = len(request.question)
    if length > max_chars:
        raise HTTPException(
            422,
            f"messages[-1].content: the question is {length:,} characters long; the limit is "
            f"{max_chars:,}. Shorten it and ask again.",
        )


@router.post("/v1/chat", response_model=ChatResponse, responses={**STREAM_DOC, **ERRORS})
async def chat(request: ChatRequest, pipeline: PipelineDep, settings: SettingsDep):
    check_limits(request, settings.max_question_chars)
    if request.stream:
        return EventSourceResponse(chat_sse(pipeline.astream(request)))
    return await run_in_threadpool(pipeline.run, request)
