"""Citation verification, abstention detection and prompt packing, on hand-written model outputs.

Where a model is needed it is a scripted one (LangChain's GenericFakeChatModel): the verifier is
under test here, not the model. The real model runs in test_llm_service.py.
"""

import asyncio

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from service.rag.abstain import ABSTAIN_PHRASE, is_abstention
from service.rag.citations import CitationFilter, check_answer
from service.rag.llm import LLMAnswerer, pack_sources
from service.rag.retrieve import Hit


@pytest.mark.parametrize(
    "raw,given,text,citations,removed",
    [
        ("He worked at Oracle [1] and Cisco [2].", {1, 2}, "He worked at Oracle [1] and Cisco [2].", [1, 2], []),
        ("He worked at Oracle [1] and Cisco [7].", {1, 2}, "He worked at Oracle [1] and Cisco.", [1], [7]),
        ("Oracle [6] then Cisco [9] later.", {1, 2}, "Oracle then Cisco later.", [], [6, 9]),
        ("Both [1, 7] say so.", {1, 2}, "Both [1] say so.", [1], [7]),
        ("Both [1][7] say so.", {1, 2}, "Both [1] say so.", [1], [7]),
        ("Both [7] [1] say so.", {1, 2}, "Both [1] say so.", [1], [7]),
        ("As [Source 2] says.", {1, 2}, "As [Source 2] says.", [2], []),
        ("Zero [0] is never a source.", {1}, "Zero is never a source.", [], [0]),
        ("  Leading space [1].  ", {1}, "Leading space [1].", [1], []),
        ("Not a citation [see above] or [x].", {1}, "Not a citation [see above] or [x].", [], []),
        ("Cut off at the end [1", {1}, "Cut off at the end [1", [], []),
        ("[3] opens.", {3}, "[3] opens.", [3], []),
        ("[4] opens.", {3}, "opens.", [], [4]),
    ],
)
def test_check_answer(raw, given, text, citations, removed):
    checked = check_answer(raw, given)
    assert (checked.text, checked.citations, checked.removed) == (text, citations, removed)
    assert checked.verified is bool(citations)


@pytest.mark.parametrize(
    "raw",
    [
        "He worked at Oracle [1] and Cisco [7]. Later [2, 9] he moved [Source 1].",
        "Both [7] [1] say so, [3][2] too.",
        "  spaced   out [1]  words [5].  ",
    ],
)
@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_streamed_pieces_add_up_to_the_checked_answer(raw, size):
    stream = CitationFilter({1, 2})
    pieces = [stream.feed(raw[i : i + size]) for i in range(0, len(raw), size)] + [stream.flush()]
    assert "".join(pieces) == stream.text == check_answer(raw, {1, 2}).text
    assert not any("[7]" in p or "[9" in p or "[5]" in p for p in pieces)


@pytest.mark.parametrize(
    "text,abstained",
    [
        (ABSTAIN_PHRASE, True),
        ("The sources do not contain the answer", True),
        ("The provided sources don't mention the price of an ECS instance.", True),
        ("The transcripts do not say who the CEO is.", True),
        ("This is not mentioned in the sources.", True),
        ("Sadly, the passages does not include that figure.", True),
        ("Alibaba Cloud started in 2009 [1].", False),
        ("He does not mention the sources of his funding [2].", False),
        ("The team does not contain engineers only [1].", False),
    ],
)
def test_abstention_detection(text, abstained):
    assert is_abstention(text) is abstained


def hit(n, chars, question="Q?"):
    return Hit(f"t#t{n:03d}p01", "x" * chars, {"speaker": "Ann", "question": question})


def test_pack_sources_best_first_within_budget():
    hits = [hit(1, 400), hit(2, 900), hit(3, 300), hit(4, 500)]
    packed = pack_sources(hits, budget_tokens=300)  # 1,200 characters
    assert list(packed) == [1, 3]  # 2 does not fit, 3 still does, then the budget is spent
    assert packed[1].startswith('[1] Ann, answering "Q?":\n')
    assert sum(len(t) for t in packed.values()) <= 1200


def test_pack_sources_always_keeps_the_best_passage():
    packed = pack_sources([hit(1, 5000), hit(2, 100)], budget_tokens=100)
    assert list(packed) == [1] and len(packed[1]) == 400


def drain(pieces) -> list[str]:
    """The pieces of an async stream, collected."""
    async def collect():
        return [p async for p in pieces]

    return asyncio.run(collect())


def scripted(*replies):
    """A scripted chat model: replies in order, streamed word by word."""
    return GenericFakeChatModel(messages=iter([AIMessage(r) for r in replies]))


def test_answerer_streams_raw_text_and_uses_the_packed_numbers():
    answerer = LLMAnswerer(scripted("Oracle [1] and Cisco [3]."), budget_tokens=300)
    prepared = answerer.prepare("Where?", [hit(1, 100), hit(2, 100)])
    assert prepared.given == {1, 2}
    assert "[1] Ann" in prepared.messages[1].content and "[2] Ann" in prepared.messages[1].content
    raw = "".join(drain(answerer.astream(prepared)))
    assert raw == "Oracle [1] and Cisco [3]."
    assert check_answer(raw, prepared.given).text == "Oracle [1] and Cisco."


def test_a_digest_is_written_from_the_outline_of_its_points():
    answerer = LLMAnswerer(scripted("unused"), budget_tokens=300)
    outline = "From **Hearing 4**:\n\nAnn Lee asked: “Why?” [1]\nBo Ek answered: “Because.” [1]"
    user = answerer.prepare("Summarize the discussion about Oslo.", [hit(1, 100)], outline).messages[1].content
    assert "<outline>\n" + outline + "\n</outline>" in user and "grouped by transcript" in user
    assert user.index("</sources>") < user.index("<outline>") < user.index("Question: Summarize")
    plain = answerer.prepare("Where?", [hit(1, 100)]).messages[1].content
    assert "<outline>" not in plain and plain.endswith("</sources>\nQuestion: Where?")


def test_answerer_abstains_without_asking_when_nothing_was_retrieved():
    model = scripted("should not be used")
    prepared = LLMAnswerer(model, 300).prepare("Where?", [])
    assert drain(LLMAnswerer(model, 300).astream(prepared)) == [ABSTAIN_PHRASE]


@pytest.mark.parametrize(
    "reply,question,expected",
    [
        ("Where did Xuan Jin work before Alibaba?", "Where did he work?", "Where did Xuan Jin work before Alibaba?"),
        ("Standalone question: \"Where did Xuan Jin work?\"\nExtra line", "Where?", "Where did Xuan Jin work?"),
        ("   ", "Where did he work?", "Where did he work?"),
        ("x" * 500, "Where?", "Where?"),
    ],
)
def test_condense_cleans_the_rewrite(reply, question, expected):
    answerer = LLMAnswerer(scripted(reply), 300)
    earlier = [("user", "Who is Xuan Jin?"), ("assistant", "An architect [1].")]
    assert asyncio.run(answerer.acondense(question, earlier)) == expected


def test_condense_prompt_shows_recent_turns_without_citations():
    answerer = LLMAnswerer(scripted(), 300)
    text = answerer.condense_input("Where?", [("user", "Who is Ann?"), ("assistant", "An architect [1]. " + "y" * 400)])
    assert "User: Who is Ann?\nAssistant: An architect. …\n" in text
    assert "[1]" not in text and "Last question: Where?" in text
    assert len(text) < 1000
