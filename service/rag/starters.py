"""Starter questions for an empty chat: questions asked in the transcripts that read whole and on
their own, spread across the transcripts.

An interview's questions are its interviewer's; a conversation's (hearings, panels) are the
speakers' turns, or the last sentence of a turn, that ask something. Most of those lean on what
was said just before ("How concerned are you by that?", "Kay, is that your experience?",
"…are they starting to—?"), so only a question that is one whole sentence, starts as a sentence
starts, names something (a capitalised word after its first) and does not end on a word that
points back is offered. The list is built once per index snapshot.
"""

from __future__ import annotations

import re
from collections import defaultdict

from ingest import store as ix
from service.rag.per_snapshot import PerSnapshot

MAX_CHARS = 150
_WORD = re.compile(r"[\w’'-]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"“‘(]?[A-Z])")
# Words that open a reply or a follow-up rather than a question that stands alone.
_OPENERS = {
    "and", "but", "so", "or", "okay", "ok", "right", "yes", "no", "well", "oh", "then", "also", "just",
    "now", "maybe", "sorry", "thanks", "thank", "sure", "yeah", "good", "great", "fine", "again",
    "because", "if", "i", "i'm", "i’m", "we", "you've", "you’ve",
}  # fmt: skip
# A question ending on one of these points at something said before it.
_POINTERS = {"that", "this", "it", "them", "those", "these", "there", "then", "him", "her", "so", "too", "either", "one"}
_PROCEDURE = re.compile(
    r"\b(?:supplementary|any (?:more|other|further) questions|move on|for the record|introduce|"
    r"ask (?:question|a question)|question \d+|the floor)\b"
    r"|^(?:can|could|may) I (?:just )?(?:say|add|come in|check|clarify)\b|^(?:a|one|my) (?:quick |final )?question\b",
    re.IGNORECASE)
_TAG = re.compile(r",\s*(?:\w+n[’']t|is|are|do|does|did|will|would|can|right|yes|no)\s+\w+\s*\?$", re.IGNORECASE)
_VOCATIVE = re.compile(r"^[A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+)?,\s")


def is_whole_question(text: str) -> bool:
    """One sentence that asks something, reads on its own and names what it is about."""
    q = " ".join(text.split())
    if not 15 <= len(q) <= MAX_CHARS or not q[0].isupper() or not q.endswith("?"):
        return False
    if re.search(r"[—–…:;]|\.\.\.|-\s*\?$", q) or len(_SENTENCE_END.split(q)) > 1:
        return False  # an interruption, a trailing-off, or more than one sentence
    words = _WORD.findall(q)
    if len(words) < 5 or words[0].casefold() in _OPENERS or words[-1].casefold() in _POINTERS:
        return False
    if _VOCATIVE.match(q) or _PROCEDURE.search(q) or _TAG.search(q):
        return False
    return any(w[0].isupper() and w.casefold() not in ("i", "i'm", "i’m") for w in words[1:])


def _asked(records: list[tuple[str, dict]]) -> list[str]:
    """The questions of one transcript in turn order: an interview's questions, a conversation's
    turns (or their last sentence) that ask."""
    out: list[str] = []
    turns: dict[int, list[str]] = defaultdict(list)
    for text, meta in records:
        turn = int(meta.get(ix.K_TURN, 0))
        if turn <= 0:
            continue
        if (meta.get(ix.K_KIND) or "interview") == "interview":
            if int(meta.get(ix.K_PIECE, 1)) == 1 and meta.get(ix.K_QUESTION):
                out.append(meta[ix.K_QUESTION])
        else:
            turns[turn].append(text)
    for turn in sorted(turns):
        said = " ".join(turns[turn]).strip()
        out.append(_SENTENCE_END.split(said)[-1] if said else "")
    return out


def _build(snapshot) -> list[str]:
    by_transcript: dict[str, list[tuple[str, dict]]] = defaultdict(list)
    for text, meta in snapshot.docs.values():
        by_transcript[meta.get(ix.K_TRANSCRIPT, "")].append((text, meta))
    lists = []
    for tid in sorted(by_transcript):
        records = sorted(by_transcript[tid], key=lambda r: (int(r[1].get(ix.K_TURN, 0)), int(r[1].get(ix.K_PIECE, 1))))
        lists.append(list(dict.fromkeys(" ".join(q.split()) for q in _asked(records) if is_whole_question(q))))
    out, seen = [], set()
    for i in range(max(map(len, lists), default=0)):  # round robin: one from each transcript in turn
        for questions in lists:
            if i < len(questions) and questions[i].casefold() not in seen:
                seen.add(questions[i].casefold())
                out.append(questions[i])
    return out


_STARTERS = PerSnapshot(_build)


def starter_questions(snapshot, n: int) -> list[str]:
    """Up to `n` whole, self-contained questions asked in the transcripts, spread across them."""
    return _STARTERS.get(snapshot)[:n]
