"""The phrase index: a passage that says the words of the question together ranks above one that
says the same words apart (real ingest, real model, Chroma under tmp_path)."""

from __future__ import annotations

import pytest

from ingest import store as ix
from ingest.settings import Settings
from ingest.sync import sync_paths
from service.rag.retrieve import Retriever

HEARING = """\
Committee on Agriculture, Meeting 3

The Chair (Ms. Ann Lee): Welcome. We begin with questions on support for farms.

Mr. Tom Hill: Dairy care in the long run matters: the term of each farm loan, the care of the herds, the homes of the workers.

Ms. Rosa Park: Homes for seniors need long-term care, and each care home on a farm road waits for the term of its loan.

Mr. Tom Hill: Thank you. My next question is on grain prices, which fell again this spring.
"""


@pytest.fixture
def retriever(tmp_path, embedder):
    folder = tmp_path / "hearings"
    folder.mkdir()
    (folder / "agriculture-3.txt").write_text(HEARING, encoding="utf-8")
    settings = Settings(chroma_path=tmp_path / "chroma", transcripts_dir=folder)
    client = ix.chroma_client(settings)
    report = sync_paths([folder], settings, embedder, client)
    assert report.transcripts == 1 and not report.skipped
    return Retriever(settings, embedder, client)


def test_words_said_together_outrank_the_same_words_apart(retriever):
    snap = retriever.snap
    words, phrases, _ = retriever._keyword(snap, "What was said about long-term care homes?")
    row = {snap.docs[i][1][ix.K_SPEAKER]: n for n, i in enumerate(snap.ids) if snap.docs[i][1][ix.K_TURN] in (2, 3)}
    together, apart = row["Rosa Park"], row["Tom Hill"]
    assert words[apart] > 0 and words[together] > 0  # both turns hold every word of the question
    assert phrases[together] > 0 and phrases[apart] == 0  # only one says them as a phrase
    hits = retriever.retrieve("What was said about long-term care homes?", [], 2).hits
    assert hits[0].meta[ix.K_SPEAKER] == "Rosa Park"


def test_a_question_of_one_word_has_no_phrase_and_is_searched_by_words(retriever):
    snap = retriever.snap
    words, phrases, _ = retriever._keyword(snap, "Grain?")
    assert not phrases.any() and words.any()
    assert retriever.retrieve("Grain?", [], 1).hits[0].meta[ix.K_SPEAKER] == "Tom Hill"
