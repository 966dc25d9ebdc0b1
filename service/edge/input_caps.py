"""Caps on what a question may be (length, turns, control characters), checked on the text as sent
before anything else is done with it; only then is the text normalised, and it must still ask."""

from __future__ import annotations

import re

from fastapi import HTTPException

from service.rag.chat_types import ChatRequest
from service.rag.unicode_text import normalise
from service.settings import ServiceSettings

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def check_input(request: ChatRequest, settings: ServiceSettings) -> None:
    """422/413 for a question or conversation over the caps, or text with control characters;
    then the messages are normalised in place (linear time, bounded by the caps) and a question
    that was only invisible characters is a 422."""
    check_caps(request, settings)
    for m in request.messages:
        m.content = normalise(m.content)
    if not request.question:
        raise HTTPException(422, "messages[-1].content: the question is empty (it has only invisible "
                                 "characters): write a question in the last user message")


def check_caps(request: ChatRequest, settings: ServiceSettings) -> None:
    """The caps alone: each check is one pass over the text, so a body the size limit lets in is
    refused in linear time, before any work that depends on what the characters are."""
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
