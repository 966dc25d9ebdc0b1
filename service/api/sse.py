"""Chat events as Server-Sent Events (`POST /v1/chat` with `"stream": true`).

The contract the UI reads: `sources` {"sources": [...], "standalone_question": ...}, then
`token` {"text": ...} events, then `done` with the full ChatResponse; a failure sends `error`
{"detail": ...} and the stream ends.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import AsyncIterator
from contextlib import aclosing

from sse_starlette import ServerSentEvent

from service.edge.request_log import CURRENT_REQUEST, log_json
from service.ops.store_health import is_store_error, unavailable_detail
from service.rag.errors import AnswerError
from service.rag.pipeline import ChatEvent, DoneEvent, SourcesEvent, TokenEvent

FAILED = "The service failed while writing the answer (the error is in its log). Try again."


def _json(data) -> str:
    return json.dumps(data, ensure_ascii=False)


def stream_failure(exc: Exception) -> str:
    """What to tell the client when answering fails mid-stream."""
    rid = CURRENT_REQUEST.get()
    if isinstance(exc, AnswerError):
        log_json(logging.WARNING, event="stream_error", request_id=rid, error=type(exc).__name__, detail=exc.detail)
        return exc.detail
    if is_store_error(exc):  # Chroma went away: say so (it recovers by itself), no stack trace
        log_json(logging.WARNING, event="stream_error", request_id=rid, error=type(exc).__name__,
                 detail="Chroma unreachable")
        return unavailable_detail()
    log_json(logging.ERROR, event="stream_error", request_id=rid, error=type(exc).__name__,
             traceback="".join(traceback.format_exception(exc, limit=20)))
    return FAILED


async def chat_sse(events: AsyncIterator[ChatEvent]) -> AsyncIterator[ServerSentEvent]:
    """Named SSE events for the chat UI; closing this generator closes the answer stream."""
    async with aclosing(events) as stream:
        try:
            async for event in stream:
                if isinstance(event, SourcesEvent):
                    data = {"sources": [s.model_dump(mode="json") for s in event.sources],
                            "standalone_question": event.standalone_question}
                    yield ServerSentEvent(_json(data), event="sources")
                elif isinstance(event, TokenEvent):
                    yield ServerSentEvent(_json({"text": event.text}), event="token")
                elif isinstance(event, DoneEvent):
                    yield ServerSentEvent(event.response.model_dump_json(), event="done")
        except Exception as exc:  # noqa: BLE001 - reported to the client as an `error` event
            yield ServerSentEvent(_json({"detail": stream_failure(exc)}), event="error")
