"""Starter questions for an empty chat, built from the folder's topics (service/rag/terms.py).

Each question is one of the kinds of question the service answers from the folder's structure:
which transcripts talk about a topic, who talked about it, a summary of the discussion, what was
said. Its topic is a distinctive term of one transcript; the starters take their terms from
different transcripts in turn (so together they cover more than one), every term once, and the
"which transcripts" question takes the term the most transcripts share (so its answer names
several). Nothing is copied from a transcript: a question asked there leans on what was said
before it ("How concerned are you by that?"), and two members may ask the same one.

Each starter is asked before it is offered: one the built-in answerer would decline is not
offered (the next term is tried). The question forms are the language's (`FORMS`); the list is
built once per index snapshot (ChatPipeline.starters).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import zip_longest

from service.rag.terms import folder_terms

# {term}: a topic. The first form is asked about the term the most transcripts share; it is left
# out for a folder of one transcript.
FORMS = (
    "Which transcripts talk about {term}?",
    "Who talked about {term}?",
    "Summarize the discussion about {term}.",
    "What was said about {term}?",
)


TRIES = 3  # terms tried for a form before it is left out (each try is one built-in answer)


def build(snapshot, answers: Callable[[str], bool]) -> list[str]:
    """The starters of a snapshot: each form asked about a term in turn, kept when `answers(q)`
    (the built-in answerer answers it, not "that is not in the transcripts")."""
    found = folder_terms(snapshot)
    ids = sorted(found.terms)
    if not ids:
        return []
    # the terms in turn: each transcript's best, then each one's second best, …; within a round,
    # phrases first ("tax havens" says more than "program"), then the ones more transcripts share
    rounds = [sorted((t for t in rank if t), key=lambda t: (" " not in t, -found.spread.get(t, 0)))
              for rank in zip_longest(*(found.terms[tid] for tid in ids))]
    queue = [t for rank in rounds for t in rank]
    forms = list(FORMS)
    if len(ids) > 1:  # "which transcripts": the terms the most transcripts share first
        first = sorted(queue, key=lambda t: -found.spread.get(t, 0))
    else:
        forms.pop(0)
        first = queue
    used: set[str] = set()
    out: list[str] = []
    for n, form in enumerate(forms):
        tried = 0
        for term in first if n == 0 else queue:
            if term.casefold() in used or tried == TRIES:
                continue
            tried += 1
            question = form.format(term=term)
            if answers(question):
                used.add(term.casefold())
                out.append(question)
                break
    return out
