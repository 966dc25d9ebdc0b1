"""OpenAI-compatible facade: POST /v1/chat/completions and GET /v1/models, in every answer mode."""

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from sse_starlette import EventSourceResponse

from service import guard, openai_compat
from service.api.chat import ERRORS, check_limits
from service.api.deps import PipelineDep, SettingsDep
from service.openai_compat import ChatCompletionRequest

router = APIRouter(tags=["openai"])


@router.get("/v1/models")
def models() -> dict:
    """The one model this service is: `transcript-rag`."""
    return openai_compat.model_list()


@router.post("/v1/chat/completions", responses=ERRORS)
async def chat_completions(body: ChatCompletionRequest, pipeline: PipelineDep, settings: SettingsDep):
    """The chat pipeline in OpenAI's format; sources and citations are extra fields."""
    check_limits(body.chat, settings)
    if body.stream:
        events = guard.deadline_stream(pipeline.astream(body.chat), settings.request_timeout)
        return EventSourceResponse(openai_compat.completion_chunks(events, body.model))
    response = await guard.deadline(run_in_threadpool(pipeline.run, body.chat), settings.request_timeout)
    return openai_compat.completion(response, body.model)
