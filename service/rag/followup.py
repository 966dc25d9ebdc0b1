"""Follow-up questions without an LLM: what "she", "that" and "anyone" refer to.

A follow-up ("And before that?", "What did she say next?", "Did anyone disagree?") is resolved
against the conversation, question by question from the first: its subject (the question before,
itself resolved), its speaker (named in that question, or the one the answer before quoted) and
where that answer came from (the transcript and turn of its first quote, found in the index).
All of it within the request's filters: a quote from outside them anchors nothing, and a
follow-up is searched and pinned in the request's scope, or a part of it, never more.

- A pronoun naming a person ("What did she say about loans?") becomes that speaker's name.
- A question with too little of its own ("And before that?", "Why?") is asked with the subject.
- "What did she say next?" is the speaker's next turn after the quoted one, in that transcript.
- "Did anyone disagree?" is asked within that transcript, the other speakers' turns close to the
  quoted one (on the subject) first.

With an LLM configured, the LLM rewrites follow-ups instead (service/rag/llm.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ingest import store as ix
from service.rag.anaphora import is_follow_up, owned_by_her
from service.rag.passages import members_of
from service.rag.retrieve import Hit, Retrieval, Snapshot, name_the_interviewee, name_the_titled
from service.rag.scope import Scope, speakers_in
from service.rag.text import STOP, content_words

_PERSON = {"he": "", "she": "", "him": "", "her": "'s", "his": "'s", "hers": "'s"}
_PRONOUN = re.compile(r"\b(he|she|him|her|his|hers)\b", re.IGNORECASE)
_NEXT = re.compile(
    r"\b(next|after that|afterwards|then)\b.*|\b(and then|went on|carry on|continued?)\b", re.IGNORECASE
)
_SAYS = re.compile(r"\b(say|said|says|add|added|reply|replied|answer|answered|respond|responded|come|came|happen|happened)\b", re.IGNORECASE)
_OTHERS = re.compile(
    r"\b(anyone|anybody|someone|somebody|others?|else|everyone|any(?: of the)? (?:members?|witness(?:es)?|speakers?))\b",
    re.IGNORECASE,
)
OPEN, CLOSE = "“", "”"  # how the built-in answerer quotes a passage
QUOTE_MIN = 12  # characters between the marks: shorter is a word in quotes, not a quoted passage
NEAR = 12  # "did anyone…": other speakers' turns this close to the quoted one, on its subject, come first


@dataclass
class Context:
    """What a resolved question was about, for the next one."""

    question: str  # as searched
    speaker: str = ""  # who it was about (named, or quoted in its answer)
    transcript: str = ""  # where its answer was quoted from
    turn: int = 0


@dataclass
class FollowUp:
    """A follow-up as it will be searched and answered."""

    question: str  # the question standing alone
    scope: Scope | None = None  # what it is answered from: the request's scope, or a part of it
    next_turn: tuple[str, int, str] | None = None  # (transcript, after turn, speaker): the next turn
    near: tuple[str, int, str] | None = None  # (transcript, turn, speaker): "did anyone …"


def first_quote(answer: str) -> str:
    """The text of an answer's first “quote” of QUOTE_MIN characters or more ("" if none).

    Read with str.find in one pass: a pattern like “([^”]{12,})” is tried again from every
    opening mark, which costs quadratic time on many opening marks and no closing one.
    """
    start = answer.find(OPEN)
    while start != -1:
        end = answer.find(CLOSE, start + 1)
        if end == -1:
            return ""  # no closing mark after this one, nor after any later opening
        if end - start - 1 >= QUOTE_MIN:
            return answer[start + 1 : end]
        start = answer.find(OPEN, start + 1)  # that closing mark was near: each scan stays short
    return ""


def _anchor(answer: str, snap: Snapshot, scope: Scope | None) -> tuple[str, str, int]:
    """(speaker, transcript, turn) of the first quote of an answer, as found in the part of the
    index the request may answer from (a quote from elsewhere anchors nothing)."""
    quote = first_quote(answer)
    if not quote:
        return "", "", 0
    for text, meta in snap.docs.values():
        if quote in text and (scope is None or scope.allows(meta)):
            return meta.get(ix.K_SPEAKER, ""), meta.get(ix.K_TRANSCRIPT, ""), int(meta.get(ix.K_TURN, 0))
    return "", "", 0


def _with_name(question: str, name: str) -> str:
    """ "What did she say about loans?" -> "What did Bains say about loans?"; "her" is "Bains's"
    before what she owns ("her view"), "Bains" as an object ("Did anyone answer her?")."""

    def named(m: re.Match) -> str:
        pronoun = m.group(1).lower()
        possessive = pronoun != "her" or owned_by_her(question[m.end() :])
        return name + (_PERSON[pronoun] if possessive else "")

    return _PRONOUN.sub(named, question)


def _within(scope: Scope | None, transcript: str) -> Scope:
    """The request's scope narrowed to one transcript: never wider than the request's."""
    allowed = None if scope is None else scope.transcripts
    transcripts = frozenset({transcript}) if allowed is None else allowed & {transcript}
    return Scope(transcripts, None if scope is None else scope.speakers)


def _chosen(speaker: str, scope: Scope | None, snap: Snapshot) -> str:
    """Who a pronoun names within the request's scope: the one speaker the user chose, over the
    conversation's; the conversation's only when they speak in the scope (else no one)."""
    if scope is None:
        return speaker
    if scope.speakers is not None and len(scope.speakers) == 1:
        return next(iter(scope.speakers))
    return speaker if speaker in speakers_in(scope, snap) else ""


def _resolve_one(question: str, before: Context | None, scope: Scope | None,
                 snap: Snapshot) -> FollowUp:
    if before is None or not is_follow_up(question):
        return FollowUp(question, scope)
    speaker = _chosen(before.speaker, scope, snap)
    asked = question
    if speaker and _PRONOUN.search(question):
        asked = _with_name(question, speaker)
    own = [w for w in content_words(asked) if w not in STOP and w.lower() not in {"else", "anyone", "next"}]
    if len(own) <= 2 or asked == question:
        asked = f"{before.question} {asked}"  # too little of its own: the subject goes with it
    follow = FollowUp(asked, scope)
    if before.transcript and _NEXT.search(question) and _SAYS.search(question):
        follow = FollowUp(before.question, scope, next_turn=(before.transcript, before.turn, speaker))
    elif before.transcript and _OTHERS.search(question):
        follow.scope = _within(scope, before.transcript)
        follow.near = (before.transcript, before.turn, speaker)
    return follow


def resolve(messages: list[tuple[str, str]], question: str, snap: Snapshot,
            scope: Scope | None = None) -> FollowUp:
    """The last question resolved against the conversation before it (`messages`: (role, text)
    of the earlier turns, oldest first), within the request's `scope` (None: the whole index).

    The conversation only ever narrows the scope: a quote from outside it anchors nothing, and
    the FollowUp's scope is the request's, or a part of it. A pronoun names the speaker the user
    chose (the one speaker of the scope) before the conversation's, and never someone outside it."""
    context: Context | None = None
    for role, text in messages:
        if role == "user":
            asked = name_the_interviewee(_resolve_one(text, context, scope, snap).question, snap)
            asked = name_the_titled(asked, snap, scope)
            named = sorted(snap.speakers.mentioned(asked))
            carried = context.speaker if context and asked != text else ""
            context = Context(asked, named[0] if len(named) == 1 else carried)
        elif role == "assistant" and context is not None:
            speaker, transcript, turn = _anchor(text, snap, scope)
            if transcript:
                context.transcript, context.turn = transcript, turn
                context.speaker = context.speaker or speaker
    return _resolve_one(question, context, scope, snap)


def arrange(retrieval: Retrieval, follow: FollowUp) -> Retrieval:
    """The retrieval with the turns a structural follow-up points at first: the speaker's next
    turn ("what did she say next?"), or other speakers' turns close by ("did anyone …?"). Only
    turns in the follow-up's scope are pinned."""
    snap = retrieval.snapshot
    scope = follow.scope or Scope()
    if follow.next_turn:
        transcript, turn, speaker = follow.next_turn
        later = sorted(
            (int(m.get(ix.K_TURN, 0)), int(m.get(ix.K_PIECE, 1)), cid)
            for cid, (_, m) in snap.docs.items()
            if m.get(ix.K_TRANSCRIPT) == transcript and int(m.get(ix.K_TURN, 0)) > turn
            and (not speaker or m.get(ix.K_SPEAKER) == speaker) and scope.allows(m)
        )
        if later:
            cid = later[0][2]
            text, meta = snap.docs[cid]
            top = max((h.score for h in retrieval.hits), default=0.0)
            first = Hit(cid, text, meta, top + 1.0, 0.0)
            rest = [h for h in retrieval.hits if cid not in members_of(h.meta, h.id)]
            return replace(retrieval, hits=[first, *rest], pinned=1)
    if follow.near:
        transcript, turn, speaker = follow.near
        close = {
            cid: int(m.get(ix.K_TURN, 0))
            for cid, (_, m) in snap.docs.items()
            if m.get(ix.K_TRANSCRIPT) == transcript and 0 < abs(int(m.get(ix.K_TURN, 0)) - turn) <= NEAR
            and m.get(ix.K_SPEAKER) not in (speaker, "") and scope.allows(m)
        }
        # on the subject, best first: those turns of the passages found, each on its own
        near = [Hit(cid, *snap.docs[cid], h.score, h.dense)
                for h in retrieval.hits for cid in members_of(h.meta, h.id) if cid in close][:3]
        if near:
            ids = {h.id for h in near}
            rest = [h for h in retrieval.hits if not ids & set(members_of(h.meta, h.id))]
            return replace(retrieval, hits=near + rest, pinned=len(near))
    return retrieval


def repeats(quotes: list[str], earlier_answers: list[str]) -> bool:
    """Every sentence an answer quotes was quoted by an earlier answer of the conversation: it
    adds nothing, and must not be given again word for word."""
    return bool(quotes) and all(any(q in a for a in earlier_answers) for q in quotes)
