"""Caps on what a question may be (length, turns, control characters), checked before any embedding."""

from __future__ import annotations

import re

from fastapi import HTTPException

from ingest.settings import Settings
from service.api.schemas import ChatRequest

_INVISIBLE = re.compile("[\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\U000e0000-\U000e007f]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def check_input(request: ChatRequest, settings: Settings) -> None:
    """422/413 for a question or conversation over the caps, or text with control characters."""
    if not _INVISIBLE.sub("", request.question).strip():
        raise HTTPException(422, "messages[-1].content: the question is empty (it has only invisible "
                                 "characters): write a question in the last user message")
    length = len(request.question)
    if length > settings.max_question_chars:
        raise HTTPException(
            422,
            f"messages[-1].content: the question is {length:,} characters long; the limit is "
            f"{settings.max_question_chars:,}. Shorten it and ask again.",
        )
    turns = len(request.messages)
    if turns > settings.max_turns:
        raise HTTPException(
            422, f"messages: the conversation has {turns} messages; the limit is {settings.max_turns}. "
                 "Send only the recent turns, or start a new conversation.")
    for i, m in enumerate(request.messages):
        if bad := _CONTROL.search(m.content):
            raise HTTPException(
                422, f"messages[{i}].content: contains the control character U+{ord(bad.group()):04X}; "
                     "send plain text")
    total = sum(len(m.content) for m in request.messages)
    if total > settings.max_conversation_chars:
        raise HTTPException(
            413, f"messages: the conversation is {total:,} characters long; the limit is "
                 f"{settings.max_conversation_chars:,}. Send only the recent turns, or start a new conversation.")
