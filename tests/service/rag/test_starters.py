"""The folder's topics (service/rag/terms.py) and the starter questions built from them
(service/rag/starters.py): distinctive terms, not speakers' names nor what every transcript says;
starters that stand on their own, are distinct, cover more than one transcript and are never a
question copied from a transcript."""

from __future__ import annotations

from dataclasses import dataclass, field

from ingest import store as ix
from service.rag.starters import FORMS, build
from service.rag.terms import _pick, folder_terms

COMMON = "Thank you, Chair. Yeah, okay. The committee will now consider the questions. "


@dataclass(eq=False)
class Snap:
    docs: dict = field(default_factory=dict)


def snapshot(transcripts: dict[str, list[tuple[str, str]]]) -> Snap:
    """A snapshot whose docs are these transcripts' turns: id -> [(speaker, text)]."""
    snap = Snap()
    for tid, turns in transcripts.items():
        for n, (speaker, text) in enumerate(turns, 1):
            snap.docs[f"{tid}#{n}"] = (text, {ix.K_TRANSCRIPT: tid, ix.K_SPEAKER: speaker, ix.K_TURN: n})
    return snap


FOLDER = {
    "education_4": [("Lynne Neagle", COMMON + "Why have school exclusions risen? Are you worried?"),
                    ("Meilyr Rowlands", COMMON + "School exclusions rose because pupil referral units are full. "
                                                 "School exclusions and pupil referral units need funding.")],
    "education_19": [("Lynne Neagle", COMMON + "What about university funding and tuition fees?"),
                     ("Kirsty Williams", COMMON + "University funding depends on tuition fees. School exclusions "
                                                  "are another matter. Tuition fees rise next year.")],
    "covid_2": [("Lynne Neagle", COMMON + "How are care homes coping with testing?"),
                ("Vaughan Gething", COMMON + "Care homes get testing every week. Care homes need more testing kits.")],
    "product_a": [("Project Manager", COMMON + "The remote control needs big buttons. Remote control buttons, yeah."),
                  ("Marketing", COMMON + "Big buttons on the remote control sell well.")],
}


def test_each_transcript_is_described_by_its_distinctive_terms():
    terms = folder_terms(snapshot(FOLDER)).terms
    assert terms["education_4"][0] in ("school exclusions", "pupil referral units", "pupil referral", "referral units")
    assert "university funding" in terms["education_19"] or "tuition fees" in terms["education_19"]
    assert "care homes" in terms["covid_2"] and "remote control" in terms["product_a"]
    every = {t.casefold() for ts in terms.values() for t in ts}
    assert not every & {"committee", "thank", "chair", "yeah", "okay"}  # said in every transcript
    assert not every & {"lynne", "neagle", "kirsty", "williams", "lynne neagle"}  # who, not what


def test_a_phrase_is_preferred_to_its_word_and_never_shown_beside_it():
    assert _pick([("alibaba", 4.7), ("alibaba cloud", 4.0), ("cloud", 3.9), ("data", 3.0)], 3) == [
        "alibaba cloud", "data"]
    assert _pick([("cloud", 5.4), ("cloud business", 2.1), ("europe", 3.0)], 2) == ["cloud", "europe"]


def test_starters_are_distinct_forms_over_several_transcripts_and_never_copied():
    snap = snapshot(FOLDER)
    questions = build(snap, lambda q: True)
    assert len(questions) == 4 and len({q.casefold() for q in questions}) == 4
    # one of each form, the first about the term the most transcripts share
    assert [q.split(" about ")[0] for q in questions] == [f.split(" about ")[0] for f in FORMS]
    assert questions[0] == "Which transcripts talk about school exclusions?"  # in education_4 and education_19
    terms = folder_terms(snap).terms
    covered = {tid for q in questions for tid, ts in terms.items() if any(f"about {t}" in q for t in ts)}
    assert len(covered) >= 3
    asked = {s.strip() for text, _ in snap.docs.values() for s in text.replace("?", "?\n").splitlines()}
    assert not set(questions) & asked


def test_a_folder_of_one_transcript_is_not_asked_which_transcript():
    questions = build(snapshot({"education_4": FOLDER["education_4"]}), lambda q: True)
    assert questions and not any(q.startswith("Which transcripts") for q in questions)
    assert build(Snap(), lambda q: True) == []


def test_a_starter_the_service_would_decline_is_not_offered():
    asked = []

    def answers(question: str) -> bool:
        asked.append(question)
        return "school exclusions" not in question and "care homes" not in question

    questions = build(snapshot(FOLDER), answers)
    assert questions and not any("school exclusions" in q or "care homes" in q for q in questions)
    assert set(questions) <= set(asked) and len({q.split(" about ")[0] for q in questions}) == len(questions)
    assert build(snapshot(FOLDER), lambda q: False) == []  # nothing answered, nothing offered
