"""Passages (service/rag/passages.py): a conversation's turns go into windows sized by content,
each line keeps its speaker; interview answers, intros and long pieces stand alone; a scope of
speakers is searched over single turns. The packing is checked as a function; the rest on a real
ingest of a small meeting (real model, Chroma under tmp_path)."""

from __future__ import annotations

import itertools
import random

import pytest

from ingest import store as ix
from ingest.sync import sync_paths
from service.rag.chat_types import ChatFilters, ChatRequest
from service.rag.passages import P_MEMBERS, P_SPEAKERS, pack
from service.rag.pipeline import build_pipeline
from service.settings import ServiceSettings


def test_short_items_join_the_next_until_the_target():
    assert pack([600, 10, 10, 600], target=500, limit=1800) == [range(1), range(1, 4)]


def test_a_short_last_window_joins_the_one_before():
    assert pack([600, 10], target=500, limit=1800) == [range(2)]


def test_a_window_never_grows_past_the_limit():
    assert pack([1000, 1000, 1000], target=2000, limit=1800) == [range(1), range(1, 2), range(2, 3)]
    assert pack([100, 1750], target=500, limit=1800) == [range(1), range(1, 2)]


def test_every_item_is_in_exactly_one_window_in_order():
    rng = random.Random(3)
    for _ in range(200):
        lengths = [rng.choice([5, 20, 80, 300, 900]) for _ in range(rng.randint(0, 40))]
        windows = pack(lengths, target=500, limit=1800)
        assert [i for w in windows for i in w] == list(range(len(lengths)))
        for w in windows:
            size = sum(lengths[i] for i in w)
            assert size <= 1800 or len(w) == 1
        # no window under the target unless the one after could not join it, or it is the only one
        for a, b in itertools.pairwise(windows):
            if sum(lengths[i] for i in a) < 500:
                assert sum(lengths[i] for i in a) + lengths[b.start] > 1800


MEETING = """\
Design meeting 4 (remote control project)

Project Manager: Okay. So let's start with the buttons.

Marketing: Mm-hmm.

Industrial Designer: Yeah.

Project Manager: Who wants to go first?

Industrial Designer: I looked at the rubber casing. A rubber case costs more but survives a fall, and the kinetic battery means nobody has to buy batteries again.

Marketing: Mm-hmm. Right.

User Interface: The scroll wheel should sit under the thumb, and the menu button has to be large enough for older users.

Project Manager: Okay.

Marketing: Our survey says young people want a fancy look and feel, and they would pay a little more for a spongy material.

Project Manager: Thank you all for attending.
"""


def ask(question: str, **fields) -> ChatRequest:
    return ChatRequest(messages=[{"role": "user", "content": question}], **fields)


@pytest.fixture(scope="module")
def meeting(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("meeting")
    folder = root / "meetings"
    folder.mkdir()
    (folder / "design-4.txt").write_text(MEETING, encoding="utf-8")
    settings = ServiceSettings(chroma_path=root / "chroma", transcripts_dir=folder, chat_rate_limit=0)
    report = sync_paths([folder], settings, embedder, ix.chroma_client(settings))
    assert report.transcripts == 1 and not report.skipped
    return build_pipeline(settings)


def test_filler_turns_never_stand_alone(meeting):
    snap = meeting.retriever.snap
    texts = snap.passages.texts
    assert len(snap.passages.ids) < len(snap.turns.ids)  # turns were put together
    for filler in ("Mm-hmm.", "Yeah.", "Okay.", "Thank you all for attending."):
        assert filler not in texts  # never a passage on its own
        assert any(filler in t for t in texts)  # and never dropped
    for text, meta in zip(texts, snap.passages.metas):
        if len(meta.get(P_MEMBERS, ())) > 1:  # every line opens with its speaker
            assert all(line.split(":")[0] in meta[P_SPEAKERS] for line in text.splitlines())


def test_the_quote_names_who_said_it_not_who_says_most_of_the_passage(meeting):
    answer = meeting.run(ask("What did they say about the scroll wheel under the thumb?"))
    assert not answer.abstained
    said = answer.answer.split("\n\n")[-1]  # under the meeting's title (a digest is laid out by transcript)
    assert said.startswith("User Interface:")
    assert "scroll wheel" in said


def test_a_scope_of_speakers_is_searched_over_their_own_turns(meeting):
    answer = meeting.run(ask("What did they say about the casing?", filters=ChatFilters(speakers=["Industrial Designer"])))
    assert answer.sources and {s.speaker for s in answer.sources} == {"Industrial Designer"}
    assert all("Marketing" not in s.text and "Mm-hmm" not in s.text for s in answer.sources)


def test_an_interview_answer_is_one_passage_its_pieces_together_and_the_intro_alone():
    """build() as a function: an answer cut into pieces at ingest is one passage again (up to the
    limit); the intro (turn 0) and each answer stand alone; with windowed=False every piece does."""
    import numpy as np

    from service.rag.passages import build

    def piece(turn: int, n: int, text: str) -> tuple[str, tuple[str, dict]]:
        meta = {ix.K_TRANSCRIPT: "iv", ix.K_KIND: "interview", ix.K_TURN: turn, ix.K_PIECE: n,
                ix.K_SPEAKER: "" if turn == 0 else "Xuan Jin", ix.K_START: 0, ix.K_END: len(text)}
        return ix.chunk_id("iv", turn, n), (text, meta)

    docs = dict([piece(0, 1, "An interview."), piece(1, 1, "A" * 700), piece(1, 2, "B" * 700),
                 piece(2, 1, "C" * 300)])
    ids = sorted(docs)
    vectors = np.eye(len(ids), 4, dtype=np.float32)
    tokens = [[] for _ in ids]
    joined = build(ids, docs, vectors, tokens, {"iv": 0}, windowed=True, target=500, limit=1800)
    assert joined.members == [(ids[0],), (ids[1], ids[2]), (ids[3],)]
    assert joined.texts[1] == "Xuan Jin: " + "A" * 700 + " " + "B" * 700  # one line: one turn
    alone = build(ids, docs, vectors, tokens, {"iv": 0}, windowed=False)
    assert alone.members == [(i,) for i in ids]
    small = build(ids, docs, vectors, tokens, {"iv": 0}, windowed=True, target=500, limit=1000)
    assert small.members[1:3] == [(ids[1],), (ids[2],)]  # together they pass the limit
