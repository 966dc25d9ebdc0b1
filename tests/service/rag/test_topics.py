"""A topic across the folder (service/rag/topics.py): which turns are about it, how they weigh,
how transcripts, speakers and cells are ranked, and the answer naming the transcripts."""

from __future__ import annotations

import numpy as np

from ingest import store as ix
from service.rag.retrieve import Hit, Retrieval
from service.rag.text import natural
from service.rag.topics import about, group, map_topic, speakers_answer, transcripts_answer


def hit(transcript: str, turn: int, speaker: str, score: float, text: str = "") -> Hit:
    meta = {ix.K_TRANSCRIPT: transcript, ix.K_TURN: turn, ix.K_SPEAKER: speaker, ix.K_TITLE: f"Hearing {transcript}",
            ix.K_START: turn * 100, ix.K_END: turn * 100 + 50}
    return Hit(f"{transcript}#t{turn:03d}p01#{score}", text or f"{speaker} on turn {turn}.", meta, score)


def retrieval(hits: list[Hit]) -> Retrieval:
    return Retrieval("school exclusions", "school exclusions", hits, np.ones(3) / np.sqrt(3), 0.0, None)


def test_turns_within_the_gap_weigh_by_how_far_they_clear_it_one_hit_a_turn():
    hits = [hit("a", 1, "Ann", 10.0), hit("a", 1, "Ann", 9.5), hit("b", 4, "Bob", 8.0), hit("a", 2, "Cy", 7.5),
            hit("c", 9, "Dee", 6.0)]
    turns = about(retrieval(hits), gap=4.0)
    assert [(h.meta[ix.K_TRANSCRIPT], h.meta[ix.K_TURN]) for h, _ in turns] == [("a", 1), ("b", 4), ("a", 2)]
    assert [w for _, w in turns] == [1.0, 0.5, 0.375]  # (score - (10 - 4)) / 4; turn ("c", 9) is on the line
    assert about(retrieval([]), 4.0) == []


def test_groups_are_ranked_by_weight_not_by_count():
    turns = about(retrieval([hit("a", 1, "Ann", 10.0), hit("b", 1, "Bob", 7.2), hit("b", 2, "Bob", 7.1),
                             hit("b", 3, "Cy", 7.0)]), gap=4.0)
    by_transcript = group(turns, lambda m: (m[ix.K_TRANSCRIPT], ""))
    # one close turn outweighs three far ones: 1.0 against 0.3 + 0.275 + 0.25
    assert [(g.transcript, len(g.turns)) for g in by_transcript] == [("a", 1), ("b", 3)]
    cells = group(turns, lambda m: (m[ix.K_TRANSCRIPT], m[ix.K_SPEAKER]))
    assert [(g.transcript, g.speaker) for g in cells] == [("a", "Ann"), ("b", "Bob"), ("b", "Cy")]


def test_the_answer_names_each_transcript_with_its_count_speakers_and_best_quote():
    hits = [hit("education_4", 3, "Sarah Stone", 10.0), hit("education_4", 7, "Lynne Neagle", 9.0),
            hit("education_23", 2, "Kirsty Williams", 8.0)]
    topic_map = map_topic(retrieval(hits), 4.0, lambda r, hs: {})  # no stored sentences: turns quoted whole
    cited, text, quotes = transcripts_answer(topic_map)
    assert [h.meta[ix.K_TRANSCRIPT] for h in cited] == ["education_4", "education_23"]
    first, second = text.split("\n\n")[1].split("\n")
    assert first.startswith("1. **Hearing education_4** (education_4): 2 turns on it, mostly Sarah Stone and "
                            "Lynne Neagle.") and first.endswith("[1]")
    assert second.startswith("2. **Hearing education_23** (education_23): 1 turn on it, by Kirsty Williams.")
    assert [q.text for q in quotes] == ["Sarah Stone on turn 3.", "Kirsty Williams on turn 2."]


def test_the_speakers_answer_ranks_people_by_weight_with_their_role_transcripts_and_quote():
    hits = [hit("education_4", 3, "Sarah Stone", 10.0), hit("education_23", 2, "Sarah Stone", 9.5),
            hit("education_4", 7, "Lynne Neagle", 9.0), hit("education_4", 8, "", 8.5)]
    hits[2].meta[ix.K_ROLE] = "Chair"
    topic_map = map_topic(retrieval(hits), 4.0, lambda r, hs: {})
    cited, text, quotes = speakers_answer(topic_map)
    assert [h.meta[ix.K_SPEAKER] for h in cited] == ["Sarah Stone", "Lynne Neagle"]  # the unnamed speaker is not listed
    head, body = text.split("\n\n")
    assert head == "These speakers talk about this, the most first:"
    first, second = body.split("\n")
    assert first == ("1. **Sarah Stone**: 2 turns on it in 2 transcripts; in Hearing education_4: "
                     "“Sarah Stone on turn 3.” [1]")
    assert second == "2. **Lynne Neagle** (Chair): 1 turn on it, in Hearing education_4. “Lynne Neagle on turn 7.” [2]"
    assert [q.hit for q in quotes] == cited


def test_natural_order_puts_covid_2_before_covid_10():
    assert sorted(["covid_10", "covid_2", "Covid_1", "education_4"], key=natural) == [
        "Covid_1", "covid_2", "covid_10", "education_4"]
