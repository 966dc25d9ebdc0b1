"""Starter questions (service/rag/starters.py): only questions asked in the transcripts that read
whole and on their own."""

from __future__ import annotations

import pytest

from service.rag.starters import is_whole_question


@pytest.mark.parametrize(
    "question",
    [
        "What’s in the pipeline for Alibaba Cloud?",
        "How do you consider Alibaba Cloud different to Amazon Web Services?",
        "What can we learn from Swansea?",
        "Can you talk us through Alibaba’s European cloud strategy?",
    ],
)
def test_whole_questions_are_offered(question):
    assert is_whole_question(question)


@pytest.mark.parametrize(
    ("question", "why"),
    [
        ("…are they starting to—?", "a fragment, cut off"),
        ("So, Cardiff, Swansea and Bangor—but the others, not.", "not a question"),
        ("How concerned are you by that?", "points back at what was said"),
        ("Kay, is that your experience?", "addressed to someone in the room"),
        ("Did you have a supplementary, Siân?", "procedure"),
        ("And before that?", "a follow-up"),
        ("Okay, can I run that across you all, in an outburst of honesty?", "opens as a reply"),
        ("What about funding? And what about Brexit?", "two questions"),
        ("I think we've covered the EU student fees, haven't we?", "a tag question"),
        ("What are you looking for when recruiting your team?", "names nothing it is about"),
        ("A question, then, just to ColegauCymru: to what extent do universities value the Welsh bac?", "a preamble"),
    ],
)
def test_questions_that_lean_on_the_conversation_are_not(question, why):
    assert not is_whole_question(question), why
