"""A digest laid out as a summary ("Summarize the discussion about …", in built-in mode).

The built-in answerer picks the points (service/rag/extractive.py `digest`: each passage's best
sentence that the abstention model says answers on its own); this lays them out so that they
read as a summary, from the transcripts' structure alone (turns, speakers, titles; no wording):

- **By transcript, then by speaker**: one block a transcript, named by its title, the transcript
  of the best passage first; in it, one line a speaker with their points in reading order.
- **A question is shown as a question, with its answer under it**: a point that is a question
  ("…?") is shown as asked ("Lynne Neagle asked: …"), never as a finding, and is followed by the
  answer to it, the best sentence of the next turn of the passage said by someone else, when the
  passage holds that turn.
- **Whole sentences**: a point that a sentence record splits (a line break inside a sentence,
  or a run without full stops cut to length at ingest) is joined with the rest of its sentence
  from the same turn.
- **Nothing twice**: a point that says the same words as one before it (case and punctuation
  aside) is left out. (Leaving out a point whose words lie within another's was tried: it cost
  cited gold passages on the research meetings, "Where is X?" inside a longer question, and
  bought nothing; bench/quality.py, session 11.)

Every line keeps its citation; the quotes returned are the ones the sources highlight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from service.rag.evidence import Evidence, Passage, Quote

# A sentence that ends: a full stop, question or exclamation mark, or an ellipsis, in any script,
# then any closing quotes or brackets.
_ENDS = re.compile(r"[.!?…。！？؟][\"'”’»)\]]*\s*$")
_ASKS = re.compile(r"[?？؟][\"'”’»)\]]*\s*$")
_WORDS = re.compile(r"\w+")


@dataclass
class Point:
    said: Quote
    answer: Quote | None = None  # when `said` is a question: the answer to it


def is_question(text: str) -> bool:
    return bool(_ASKS.search(text))


def whole(passage: Passage, quote: Quote) -> Quote:
    """`quote` joined with the sentence records of the same turn that continue it: back while the
    one before does not end a sentence, on while it does not end one itself."""
    sents = passage.sentences
    if not 0 <= quote.index < len(sents):
        return quote
    turn = sents[quote.index].turn
    a = b = quote.index
    while a > 0 and sents[a - 1].turn == turn and not _ENDS.search(sents[a - 1].text):
        a -= 1
    while b + 1 < len(sents) and sents[b + 1].turn == turn and not _ENDS.search(sents[b].text):
        b += 1
    if a == b:
        return quote
    first, last = sents[a], sents[b]
    i = passage.text.find(first.text)
    j = passage.text.find(last.text, max(i, 0))
    text = (passage.text[i:j + len(last.text)] if 0 <= i <= j
            else " ".join(s.text for s in sents[a:b + 1]))
    return replace(quote, text=" ".join(text.split()), start=first.start, end=last.end)


def answer_to(passage: Passage, question: Quote, scored: dict[tuple[int, int], Quote]) -> Quote | None:
    """The best sentence (by `base`) of the turn after the question's, in the same passage, said by
    someone else; None when the passage holds no such turn."""
    sents = passage.sentences
    turn = sents[question.index].turn
    later = [s.turn for s in sents if s.turn > turn]
    if not later:
        return None
    reply = [scored[(passage.n, s.index)] for s in sents
             if s.turn == min(later) and (passage.n, s.index) in scored]
    reply = [q for q in reply if q.speaker != question.speaker]
    best = max(reply, key=lambda q: q.base, default=None)
    return whole(passage, best) if best else None


def _words(text: str) -> str:
    return " ".join(_WORDS.findall(text.casefold()))


def points(evidence: Evidence, chosen: list[Quote], scored: list[Quote]) -> list[Point]:
    """The chosen sentences as points, in reading order (passage rank, then place): whole, with
    the answer under a question, nothing twice."""
    passages = {p.n: p for p in evidence.passages}
    at = {(q.n, q.index): q for q in scored}
    out: list[Point] = []
    said: set[str] = set()

    def new(quote: Quote) -> bool:
        w = _words(quote.text)
        return bool(w) and w not in said

    for q in sorted(chosen, key=lambda q: (q.n, q.start)):
        passage = passages[q.n]
        q = whole(passage, q)
        answer = answer_to(passage, q, at) if is_question(q.text) and q.index >= 0 else None
        if not new(q):
            continue
        said.add(_words(q.text))
        if answer is not None and new(answer):
            said.add(_words(answer.text))
        else:
            answer = None
        out.append(Point(q, answer))
    return out


def _cite(quote: Quote) -> str:
    return f"“{quote.text}” [{quote.n}]"


def layout(evidence: Evidence, found: list[Point]) -> tuple[str, list[Quote]]:
    """One block a transcript (the best passage's first), headed by its title; in it one line a
    speaker (their points in order), and a question's line followed by its answer's. Returns the
    text and its quotes in the order it cites them."""
    titles = {p.n: p.title for p in evidence.passages}
    blocks: dict[str, list[Point]] = {}
    for point in found:
        blocks.setdefault(titles.get(point.said.n, ""), []).append(point)
    out, cited = [], []
    for title, pts in blocks.items():
        lines: list[tuple[str, list[Quote]]] = []  # (who, quotes); a speaker's plain points share a line
        mine: dict[str, int] = {}
        for pt in pts:
            if pt.answer is None and not is_question(pt.said.text):
                who = pt.said.speaker
                if who in mine:
                    lines[mine[who]][1].append(pt.said)
                else:
                    mine[who] = len(lines)
                    lines.append((who, [pt.said]))
                continue
            lines.append((f"{pt.said.speaker} asked" if pt.said.speaker else "Asked", [pt.said]))
            if pt.answer is not None:
                lines.append((f"{pt.answer.speaker} answered" if pt.answer.speaker else "Answered", [pt.answer]))
            mine.clear()  # a speaker's later points start a new line, after the exchange
        text = "\n".join((f"{who}: " if who else "") + " ".join(map(_cite, qs)) for who, qs in lines)
        out.append((f"From **{title}**:\n\n" if title else "") + text)
        cited += [q for _, qs in lines for q in qs]
    return "\n\n".join(out), cited


def summarise(evidence: Evidence, chosen: list[Quote], scored: list[Quote]) -> tuple[str, list[Quote]]:
    """The summary's text, and every quote it cites (each point, and each answer under a
    question), in the order it cites them."""
    return layout(evidence, points(evidence, chosen, scored))
