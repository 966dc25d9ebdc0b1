"""How candidates are ranked, on small hearings (real ingest, real model, Chroma under tmp_path):
the phrase index (words said together outrank the same words apart) and a named speaker's short
turns (a bare "Yes." does not outrank what the speaker said about the subject)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ingest import store as ix
from ingest.sync import sync_paths
from service.rag.retrieve import Retriever
from service.rag.scope import Scope
from service.settings import ServiceSettings

HEARING = """\
Committee on Agriculture, Meeting 3

The Chair (Ms. Ann Lee): Welcome. We begin with questions on support for farms.

Mr. Tom Hill: Dairy care in the long run matters: the term of each farm loan, the care of the herds, the homes of the workers.

Ms. Rosa Park: Homes for seniors need long-term care, and each care home on a farm road waits for the term of its loan.

Mr. Tom Hill: Thank you. My next question is on grain prices, which fell again this spring.
"""


SHORT_ANSWERS = """\
Committee on Education, Meeting 9

The Chair (Ms. Ann Lee): We continue with the minister's evidence on school funding.

Mr. Tom Hill: Minister, teachers tell us the school funding for rural schools is not enough and the action taken so far is not enough. Do you accept that the action is not enough?

Hon. Kim Lowe: Yes.

Mr. Tom Hill: Then what will you do?

Hon. Kim Lowe: We will add a grant for small villages next year, so that they keep their teachers, and we will review the formula with the councils.
"""


def ingest_one(tmp_path, embedder, name: str, text: str, windows: bool = False) -> Retriever:
    """The retriever over one transcript; without `windows`, every turn is its own passage (these
    tests rank turns: service/rag/passages.py puts a conversation's short turns together)."""
    folder = tmp_path / "hearings"
    folder.mkdir()
    (folder / name).write_text(text, encoding="utf-8")
    settings = ServiceSettings(chroma_path=tmp_path / "chroma", transcripts_dir=folder)
    client = ix.chroma_client(settings)
    report = sync_paths([folder], settings, embedder, client)
    assert report.transcripts == 1 and not report.skipped
    retriever = Retriever(settings, embedder, client)
    if not windows:
        retriever.params = replace(retriever.params, window_target=0)
        retriever.refresh()
    return retriever


@pytest.fixture
def retriever(tmp_path, embedder):
    return ingest_one(tmp_path, embedder, "agriculture-3.txt", HEARING)


def test_words_said_together_outrank_the_same_words_apart(retriever):
    snap = retriever.snap
    words, phrases, _ = retriever._keyword(snap, snap.passages, "What was said about long-term care homes?")
    row = {snap.docs[i][1][ix.K_SPEAKER]: n for n, i in enumerate(snap.ids) if snap.docs[i][1][ix.K_TURN] in (2, 3)}
    together, apart = row["Rosa Park"], row["Tom Hill"]
    assert words[apart] > 0 and words[together] > 0  # both turns hold every word of the question
    assert phrases[together] > 0 and phrases[apart] == 0  # only one says them as a phrase
    hits = retriever.retrieve("What was said about long-term care homes?", [], 2).hits
    assert hits[0].meta[ix.K_SPEAKER] == "Rosa Park"


def test_a_question_of_one_word_has_no_phrase_and_is_searched_by_words(retriever):
    snap = retriever.snap
    words, phrases, _ = retriever._keyword(snap, snap.passages, "Grain?")
    assert not phrases.any() and words.any()
    assert retriever.retrieve("Grain?", [], 1).hits[0].meta[ix.K_SPEAKER] == "Tom Hill"


def test_a_named_speakers_bare_yes_does_not_outrank_what_she_said(tmp_path, embedder):
    """ "Yes." answers a question full of the topic's words, and the speaker is named: it stays
    searchable, but gets only its share of the speaker's boost."""
    r = ingest_one(tmp_path, embedder, "education-9.txt", SHORT_ANSWERS)
    hits = r.retrieve("What did Kim Lowe say about the action on school funding not being enough?", [], 5).hits
    lowe = [h for h in hits if h.meta[ix.K_SPEAKER] == "Kim Lowe"]
    assert [h.text for h in lowe] == [lowe[0].text, "Yes."]  # both of her turns are found
    assert lowe[0].text.startswith("We will add a grant")
    assert hits[0].meta[ix.K_SPEAKER] == "Kim Lowe"
    assert r.retrieve("Yes?", [], 3).hits  # a one-word question still finds something


MEETING_ONE = """\
Research group meeting Bed004

Professor B: I agree that we should hire Fey to do the transcription of the new recordings.

PhD D: The transcription can start once the recordings are copied to the server.
"""
MEETING_TWO = """\
Research group meeting Bmr009

Professor E: Before we hire anyone, the transcription budget has to be approved.

Grad A: The recordings from last week are already on the server.
"""


def test_the_professor_is_the_one_professor_in_scope(tmp_path, embedder):
    """ "the professor" names the one speaker with that title in the scope; over both meetings
    there are two, and the question is searched as asked."""
    folder = tmp_path / "meetings"
    folder.mkdir()
    (folder / "academic_Bed004.txt").write_text(MEETING_ONE, encoding="utf-8")
    (folder / "academic_Bmr009.txt").write_text(MEETING_TWO, encoding="utf-8")
    settings = ServiceSettings(chroma_path=tmp_path / "chroma", transcripts_dir=folder)
    client = ix.chroma_client(settings)
    assert sync_paths([folder], settings, embedder, client).transcripts == 2
    r = Retriever(settings, embedder, client)
    question = "What did the professor think about hiring Fey?"
    scoped = r.retrieve(question, [], 3, scope=Scope(frozenset({"academic_Bed004"})))
    assert scoped.question == "What did Professor B think about hiring Fey?"
    assert scoped.speakers == {"Professor B"} and scoped.hits[0].meta[ix.K_SPEAKER] == "Professor B"
    other = r.retrieve(question, [], 3, scope=Scope(frozenset({"academic_Bmr009"})))
    assert other.question == "What did Professor E think about hiring Fey?"
    everywhere = r.retrieve(question, [], 3)
    assert (everywhere.question, everywhere.speakers) == (question, frozenset())
    assert r.retrieve("What did PhD D say about the recordings?", [], 3).speakers == {"PhD D"}
