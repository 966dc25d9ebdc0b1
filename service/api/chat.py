"""POST /v1/chat: retrieve passages and answer from them with citations."""

from fastapi import APIRouter, HTTPException
from fastapi.concurrency import run_in_threadpool

from service.api.deps import PipelineDep, SettingsDep
from service.schemas import ChatRequest, ChatResponse

router = APIRouter(tags=["chat"])


def check_limits(request: ChatRequest, max_chars: int) -> None:
    """Reject oversized input before any embedding is computed."""
    length = len(request.question)
    if length > max_chars:
        raise HTTPException(
            422,
            f"messages[-1].content: the question is {length:,} characters long; the limit is "
            f"{max_chars:,}. Shorten it and ask again.",
        )


@router.post("/v1/chat", response_model=ChatResponse)
async def chat(request: ChatRequest, pipeline: PipelineDep, settings: SettingsDep) -> ChatResponse:
    check_limits(request, settings.max_question_chars)
    return await run_in_threadpool(pipeline.run, request)
