"""What a question is about without the speakers it names (service/rag/retrieve.py topic_text)."""

from __future__ import annotations

import pytest

from service.rag.retrieve import topic_text


@pytest.mark.parametrize("question,speakers,topic", [
    ("What did Smith say about loans?", {"Anna Smith"}, "about loans"),
    # a possessive goes with the name it is on, in either apostrophe
    ("What was Smith's view on loans?", {"Anna Smith"}, "loans"),
    ("What was Smith’s view on loans?", {"Anna Smith"}, "loans"),
    ("What was Jones' view on loans?", {"Ted Jones"}, "loans"),
    ("What did Anna Smith's team want?", {"Anna Smith"}, "team want"),
    # other words that end or begin in s are not names cut short
    ("What did Smith say about Sanders's loans?", {"Anna Smith"}, "about Sanders's loans"),
    ("What did Smith say about mith?", {"Anna Smith"}, "about mith"),
])
def test_the_topic_leaves_out_the_named_speakers(question, speakers, topic):
    assert topic_text(question, speakers) == topic
