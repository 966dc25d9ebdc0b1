"""OpenAI-compatible facade: POST /v1/chat/completions and GET /v1/models, in every answer mode."""

from fastapi import APIRouter
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from service.api import openai_format
from service.api.deps import PipelineDep, SettingsDep
from service.api.openai_format import ChatCompletionRequest
from service.api.routes.chat import ERRORS
from service.edge.deadline import deadline, deadline_stream
from service.edge.input_caps import check_input

router = APIRouter(tags=["openai"])


@router.get("/v1/models")
def models() -> dict:
    """The one model this service is: `transcript-rag`."""
    return openai_format.model_list()


@router.post("/v1/chat/completions", responses=ERRORS)
async def chat_completions(body: ChatCompletionRequest, pipeline: PipelineDep, settings: SettingsDep):
    """The chat pipeline in OpenAI's format; sources and citations are extra fields. Extension:
    `filters` (as on POST /v1/chat; OpenAI SDKs send it with `extra_body={"filters": …}`)."""
    check_input(body.chat, settings)  # before any embedding
    scope = await run_in_threadpool(pipeline.scope, body.chat)  # a bad filter: a JSON 422, before any stream
    if body.stream:
        events = deadline_stream(pipeline.astream(body.chat, scope), settings.request_timeout)
        return EventSourceResponse(openai_format.completion_chunks(events, body.model))
    response = await deadline(pipeline.answer(body.chat, scope), settings.request_timeout)
    return openai_format.completion(response, body.model)
