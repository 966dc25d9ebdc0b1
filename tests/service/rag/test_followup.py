"""Which questions lean on the conversation before them (service/rag/retrieve.py is_follow_up)."""

import pytest

from service.rag.followup import first_quote
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


def test_first_quote_reads_what_the_quote_pattern_read():
    """`first_quote` (str.find, linear) finds what “([^”]{12,})” found, on every string of a few
    quotation marks and letters: short quotes skipped, an opening mark inside a quote kept."""
    import random
    import re

    pattern = re.compile(r"“([^”]{12,})”")
    rng = random.Random(19)
    cases = ["“short” then “a quoted passage here”", "“ab “long content here, twelve”", "no quote", "“unclosed"]
    cases += ["".join(rng.choice("“”aaaa ") for _ in range(rng.randint(0, 60))) for _ in range(3000)]
    for text in cases:
        m = pattern.search(text)
        assert first_quote(text) == (m.group(1) if m else ""), text
