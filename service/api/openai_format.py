"""The service as an OpenAI-compatible model: request and response shapes of `/v1/chat/completions`.

Existing OpenAI clients and chat UIs can use the service as a model named `transcript-rag`;
the answer is the message content, and the grounding (sources, citations, abstained, verified,
timings) rides along as extra top-level fields of the completion (and of the final chunk).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from sse_starlette import ServerSentEvent

from service.api.sse import stream_failure
from service.rag.chat_types import ChatFilters, ChatRequest, ChatResponse, Text
from service.rag.errors import AnswerError
from service.rag.pipeline import ChatEvent, DoneEvent, SourcesEvent, TokenEvent

MODEL_ID = "transcript-rag"
CREATED = int(time.time())


class ContentPart(BaseModel):
    """One OpenAI content part: a `text` part carries text; other kinds (images, audio, files)
    are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    type: Text = Field(description='"text", or another kind (image_url, input_audio …), which is ignored.')
    text: Text | None = Field(None, validate_default=True, description='The text of a "text" part.')

    @field_validator("text")
    @classmethod
    def _text_part_has_text(cls, text: str | None, info: ValidationInfo) -> str | None:
        if text is None and info.data.get("type") == "text":
            raise ValueError('a part of type "text" needs "text": a string')
        return text


def _as_parts(content: Any) -> Any:
    """Plain text is one text part and null none, so that a bad part is named by its own place
    (`messages.0.content.0.text`) rather than by every shape the content could have had."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise PydanticCustomError("content_type", "must be a string or a list of content parts, not {kind}",
                                  {"kind": type(content).__name__})
    return content


class CompletionMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Text = Field(description="system, user, assistant (other roles are ignored).")
    content: Annotated[list[ContentPart], BeforeValidator(
        _as_parts, json_schema_input_type=str | list[ContentPart] | None)] = Field(
        default_factory=list, description="Text, or OpenAI content parts.")

    @property
    def text(self) -> str:
        return "".join(p.text or "" for p in self.content if p.type == "text")


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat completion request; sampling fields are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")

    model: Text = Field(MODEL_ID, description=f"Any name; the service answers as `{MODEL_ID}`.")
    messages: list[CompletionMessage] = Field(min_length=1, description="The conversation, OpenAI-style.")
    stream: bool = Field(False, description="Answer as OpenAI chat.completion.chunk events.")
    top_k: int | None = Field(None, ge=1, le=20, description="Extension: passages to retrieve (1–20).")
    filters: ChatFilters | None = Field(
        None, description="Extension: answer only from some transcripts and/or speakers, as on POST /v1/chat "
        '(OpenAI SDKs: `extra_body={"filters": {...}}`).')
    _chat: ChatRequest = PrivateAttr()

    @model_validator(mode="after")
    def _to_chat_request(self) -> ChatCompletionRequest:
        turns = [{"role": m.role, "content": m.text} for m in self.messages if m.role in ("user", "assistant")]
        try:
            self._chat = ChatRequest(messages=turns, top_k=self.top_k, filters=self.filters)
        except ValidationError as exc:
            # name the field as the converted request saw it (system turns are not counted)
            raise ValueError("; ".join(f"{'.'.join(map(str, e['loc'])) or 'messages'}: "
                                       f"{e['msg'].removeprefix('Value error, ')}" for e in exc.errors())) from None
        return self

    @property
    def chat(self) -> ChatRequest:
        return self._chat


def model_list() -> dict:
    return {"object": "list",
            "data": [{"id": MODEL_ID, "object": "model", "created": CREATED, "owned_by": "transcript-rag"}]}


def _extras(response: ChatResponse) -> dict:
    return response.model_dump(mode="json", exclude={"answer"})


def completion(response: ChatResponse, model: str) -> dict:
    """A `chat.completion` object with the grounding as extra fields."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": response.answer},
                     "finish_reason": "stop"}],
        **_extras(response),
    }


async def completion_chunks(events: AsyncIterator[ChatEvent], model: str) -> AsyncIterator[ServerSentEvent]:
    """OpenAI `chat.completion.chunk` SSE data lines, ending with `[DONE]` (or an `error` object)."""
    cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(delta: dict, finish: str | None = None, **extra) -> ServerSentEvent:
        body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return ServerSentEvent(json.dumps(body, ensure_ascii=False))

    async with aclosing(events) as stream:
        try:
            async for event in stream:
                if isinstance(event, SourcesEvent):
                    yield chunk({"role": "assistant", "content": ""})
                elif isinstance(event, TokenEvent):
                    yield chunk({"content": event.text})
                elif isinstance(event, DoneEvent):
                    yield chunk({}, "stop", **_extras(event.response))
        except Exception as exc:  # noqa: BLE001 - reported in the stream, as OpenAI does
            status = exc.status if isinstance(exc, AnswerError) else 500
            error = {"message": stream_failure(exc), "type": "server_error", "code": status}
            yield ServerSentEvent(json.dumps({"error": error}, ensure_ascii=False))
            return
    yield ServerSentEvent("[DONE]")
