"""Which questions lean on the conversation before them (service/rag/retrieve.py is_follow_up)."""

import pytest

from service.rag.retrieve import is_follow_up


@pytest.mark.parametrize("question", [
    "And before that?", "Why?", "What about pricing?", "How about in Germany and France?",
    "What did she say next?", "Did anyone disagree?", "What happened next?", "Pricing?", "And the debt?",
])
def test_questions_that_lean_on_the_conversation(question):
    assert is_follow_up(question)


@pytest.mark.parametrize("question", [
    "What is the weather in Paris?", "Who is Xuan Jin?", "What is the capital of Australia?",
    "When was Alibaba Cloud started?", "What did Morneau say about dairy farmers?",
])
def test_short_questions_that_stand_alone(question):
    assert not is_follow_up(question)
