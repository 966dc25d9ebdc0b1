"""POST /v1/chat: retrieve passages and answer from them with citations (JSON, or SSE when streaming)."""

from fastapi import APIRouter
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from service.api.deps import PipelineDep, SettingsDep
from service.api.sse import chat_sse
from service.edge.deadline import deadline, deadline_stream
from service.edge.input_caps import check_input
from service.rag.chat_types import ChatRequest, ChatResponse

router = APIRouter(tags=["chat"])

ERRORS = {
    422: {"description": "An invalid request, or `filters` that name a transcript or speaker the index does not "
                         "have (`detail` names them; GET /v1/transcripts lists the ids and speakers)."},
    502: {"description": "The LLM server answered with an error (`detail` says what)."},
    503: {"description": "The LLM server cannot be reached (llm mode)."},
    504: {"description": "The LLM server, or the whole answer (REQUEST_TIMEOUT), did not finish in time."},
}
STREAM_DOC = {200: {"content": {"text/event-stream": {}}, "description": "The answer; with `\"stream\": true`, "
                    "Server-Sent Events `sources`, `token`…, then `done` (or `error`)."}}


@router.post("/v1/chat", response_model=ChatResponse, responses={**STREAM_DOC, **ERRORS})
async def chat(request: ChatRequest, pipeline: PipelineDep, settings: SettingsDep):
    check_input(request, settings)  # before any embedding
    scope = await run_in_threadpool(pipeline.scope, request)  # a bad filter: a JSON 422, before any stream
    if request.stream:
        events = deadline_stream(pipeline.astream(request, scope), settings.request_timeout)
        return EventSourceResponse(chat_sse(events))
    return await deadline(pipeline.answer(request, scope), settings.request_timeout)
