"""A digest laid out as a summary (service/rag/summary.py): by transcript then speaker, a question
with its answer under it, whole sentences, nothing twice."""

from __future__ import annotations

from service.rag.evidence import Evidence, Passage, Quote, Sentence
from service.rag.summary import is_question, summarise, whole


def passage(n: int, title: str, turns: list[tuple[str, list[str]]]) -> Passage:
    """A passage of turns (speaker, sentences); its text is the turns' lines, as retrieval gives it."""
    sents, lines, at = [], [], 0
    for t, (speaker, said) in enumerate(turns, 1):
        line = f"{speaker}: " + " ".join(said)
        for s in said:
            start = at + line.index(s)
            sents.append(Sentence(s, len(sents), start, start + len(s), 0.5, (), speaker, t))
        lines.append(line)
        at += len(line) + 1
    return Passage(n, 1.0 / n, True, 0.0, turns[0][0], tuple(sents), title=title, text="\n".join(lines))


def scored(passages: list[Passage], base: dict[str, float] | None = None) -> list[Quote]:
    base = base or {}
    return [Quote(p.n, s.text, s.start, s.end, base.get(s.text, 0.1), base.get(s.text, 0.1), s.speaker, 0.0, s.index)
            for p in passages for s in p.sentences]


def pick(quotes: list[Quote], *texts: str) -> list[Quote]:
    return [next(q for q in quotes if q.text == t) for t in texts]


def evidence(passages: list[Passage]) -> Evidence:
    return Evidence("Summarize the discussion about exclusions.", (), {}, tuple(passages))


def test_points_are_grouped_by_transcript_then_speaker_best_transcript_first():
    ps = [passage(1, "Education 4", [("Sian Gwenllian", ["Exclusions rose by a third."]),
                                     ("Lynne Neagle", ["Thank you."])]),
          passage(2, "Education 23", [("Kirsty Williams", ["Pupil referral units need support."])]),
          passage(3, "Education 4", [("Sian Gwenllian", ["Schools need guidance on exclusions."])])]
    qs = scored(ps)
    text, cited = summarise(evidence(ps), pick(qs, "Exclusions rose by a third.", "Pupil referral units need support.",
                                               "Schools need guidance on exclusions."), qs)
    assert text == ("From **Education 4**:\n\n"
                    "Sian Gwenllian: “Exclusions rose by a third.” [1] “Schools need guidance on exclusions.” [3]\n\n"
                    "From **Education 23**:\n\n"
                    "Kirsty Williams: “Pupil referral units need support.” [2]")
    assert [q.n for q in cited] == [1, 3, 2]


def test_a_question_is_shown_with_the_answer_of_the_next_turn_under_it():
    ps = [passage(1, "Education 4", [("Lynne Neagle", ["Why have exclusions risen?"]),
                                     ("Meilyr Rowlands", ["Thank you.", "Mostly because of behaviour policies."])]),
          passage(2, "Education 4", [("Lynne Neagle", ["What about funding?"])])]  # no answer in the passage
    qs = scored(ps, {"Mostly because of behaviour policies.": 0.9})
    text, cited = summarise(evidence(ps), pick(qs, "Why have exclusions risen?", "What about funding?"), qs)
    assert text == ("From **Education 4**:\n\n"
                    "Lynne Neagle asked: “Why have exclusions risen?” [1]\n"
                    "Meilyr Rowlands answered: “Mostly because of behaviour policies.” [1]\n"
                    "Lynne Neagle asked: “What about funding?” [2]")  # asked, not a finding, with no answer here
    assert [(q.n, q.speaker) for q in cited] == [(1, "Lynne Neagle"), (1, "Meilyr Rowlands"), (2, "Lynne Neagle")]
    assert is_question("Is it “working?”") and not is_question("He asked why.")


def test_a_sentence_split_by_a_line_break_is_quoted_whole():
    p = passage(1, "Education 4", [("Meilyr Rowlands", ["Support, which is absolutely essential for", "the pupils, is late."])])
    q = scored([p])[0]
    full = whole(p, q)
    assert full.text == "Support, which is absolutely essential for the pupils, is late."
    assert (full.start, full.end) == (p.sentences[0].start, p.sentences[1].end)
    assert whole(p, scored([p])[1]).text == full.text  # from its second part too


def test_nothing_is_said_twice():
    ps = [passage(1, "Education 4", [("Ann", ["The figure is 320 pupils."])]),
          passage(2, "Education 4", [("Bob", ["The figure is 320 pupils."])]),
          passage(3, "Education 4", [("Cy", ["the figure is 320 pupils"])]),
          passage(4, "Education 4", [("Dee", ["Another point."])])]
    qs = scored(ps)
    text, cited = summarise(evidence(ps), [qs[0], qs[1], qs[2], qs[3]], qs)
    assert text.count("320") == 1 and [q.n for q in cited] == [1, 4]
