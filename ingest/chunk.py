"""Cut answers into pieces that carry their question, on sentence boundaries only."""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from itertools import pairwise

from ingest import store as ix
from ingest.parse import Paragraph, Transcript, Turn

# Bumped when parsing or chunking changes what a file yields, so a re-sync re-reads every file
# (2: conversations as speaker turns, the intro as turn 0; 3: "Professor C" keeps its title, page
# furniture is told by position, never by a word of an answer).
CHUNKING_VERSION = 3

# Abbreviations after which a full stop does not end a sentence.
_ABBREV = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "inc", "ltd",
    "co", "corp", "no", "fig", "approx", "dept", "est", "u.s", "u.k", "jan", "feb", "mar", "apr",
    "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "mt", "ft",
}  # fmt: skip
# Candidate boundary: terminal punctuation, optional closing quotes/brackets, then white space.
# (Tried only where a run of punctuation starts, and without giving characters back: a long
# run of full stops made every position in it a new try, in time growing with its square.)
_BOUNDARY = re.compile(r"(?<![.!?…])[.!?…]++[\"'”’)\]]*+(?=\s)")
# The word before a boundary (with its full stops), matched backwards from the boundary's end
# in the reversed text, so that it costs the length of that word and not of the sentence.
_WORD_BEFORE = re.compile(r"[\"'”’)\]]*[.!?…]*[\w.]+")
_WORD = re.compile(r"[\w.]+")
_SPACE = re.compile(r"\s*")


@dataclass
class Sentence:
    text: str
    start: int
    end: int


def split_sentences(text: str, offset: int = 0) -> list[Sentence]:
    """Split prose into sentences with spans (offset added).

    Rule-based and fast (a full transcript in well under a millisecond): a boundary is terminal
    punctuation followed by white space and an upper-case letter, quote or bracket, except after
    a known abbreviation, an initial, or a number followed by another number ("the 11. 11 sale").
    """
    sentences: list[Sentence] = []
    start = 0
    backwards = text[::-1]
    n = len(text)
    for m in _BOUNDARY.finditer(text):
        end = m.end()
        after = _SPACE.match(text, end).end()  # where the next sentence would start
        if after == n:
            continue
        nxt = text[after]
        # The last word of the sentence so far: in its own terms, the longest tail of
        # text[start:end] that is word characters and full stops, then ".!?…", then closing
        # quotes; read backwards from `end` and never before `start`.
        word = _WORD_BEFORE.match(backwards, n - end, n - start)
        token = ""
        if word:
            token = _WORD.match(text, n - word.end(), end).group().lower().rstrip(".")
        if not (nxt.isupper() or nxt in "\"'“‘([" or (nxt.isdigit() and not token.isdigit())):
            continue
        if text[m.start()] == "." and (token in _ABBREV or (len(token) == 1 and token.isalpha())):
            continue
        _append(sentences, text, start, end, offset)
        start = after
    _append(sentences, text, start, len(text), offset)
    return sentences


def _append(out: list[Sentence], text: str, start: int, end: int, offset: int) -> None:
    chunk = text[start:end]
    stripped = chunk.strip()
    if stripped:
        lead = len(chunk) - len(chunk.lstrip())
        s = offset + start + lead
        out.append(Sentence(stripped, s, s + len(stripped)))


@dataclass
class Chunk:
    """One answer piece: the unit that is embedded, retrieved and cited."""

    id: str
    text: str
    question: str
    metadata: dict
    sentences: list[Sentence] = field(default_factory=list)

    @property
    def _lead(self) -> str:
        """What is embedded before the text: an interview answer's question, so that it is found
        by what was asked. A conversation turn is embedded alone: the turn before it is another
        person's words, already a passage of its own (it goes into the keyword index instead)."""
        if self.metadata.get(ix.K_KIND) == "conversation" or not self.question:
            return ""
        return self.question + "\n"

    @property
    def embed_text(self) -> str:
        return self._lead + self.text

    @property
    def sentence_spans(self) -> list[tuple[int, int]]:
        """Where each sentence sits inside `embed_text` (sentence spans are source-file spans)."""
        base = len(self._lead) - self.metadata[ix.K_START]
        return [(s.start + base, s.end + base) for s in self.sentences]


def _pack(sentences: list[Sentence], max_chars: int) -> list[list[Sentence]]:
    """Cut sentences into about equal pieces of ~max_chars; never split a sentence.

    Cuts go at the sentence ends closest to equal shares of the answer, so no piece is a
    stub of one short trailing sentence.
    """
    total = sum(len(s.text) + 1 for s in sentences)
    n = math.ceil(total / max_chars) if total > max_chars * 1.25 else 1
    n = min(n, len(sentences))
    if n <= 1:
        return [sentences]
    ends, acc = [], 0
    for s in sentences:
        acc += len(s.text) + 1
        ends.append(acc)
    cuts, prev = [], 0
    for k in range(1, n):
        lo, hi = prev + 1, len(sentences) - (n - k)
        share = k * total / n
        # `ends` grows, so the closest end is one of the two around the share (bisect instead
        # of trying every sentence, which took time growing with the square of the answer).
        i = min(max(bisect.bisect_left(ends, share) + 1, lo), hi)
        best = i - 1 if i > lo and abs(ends[i - 2] - share) <= abs(ends[i - 1] - share) else i
        cuts.append(best)
        prev = best
    bounds = [0, *cuts, len(sentences)]
    return [sentences[a:b] for a, b in pairwise(bounds)]


LONGEST_SENTENCE = 1200  # an unpunctuated run (auto-captions) is cut at spaces into parts this long


def _bounded(sentence: Sentence, limit: int = LONGEST_SENTENCE) -> list[Sentence]:
    """A sentence longer than `limit` cut at spaces (the last before the limit), so that no
    passage is pages long where a transcript has no full stops."""
    out, text, start = [], sentence.text, sentence.start
    while len(text) > limit:
        cut = text.rfind(" ", limit // 2, limit)
        cut = cut if cut > 0 else limit
        out.append(Sentence(text[:cut], start, start + cut))
        rest = text[cut:]
        skip = len(rest) - len(rest.lstrip())
        text, start = rest.lstrip(), start + cut + skip
    out.append(Sentence(text, start, start + len(text)))
    return out


def chunk_turn(transcript: Transcript, turn: Turn, max_chars: int, source: str) -> list[Chunk]:
    sentences = [
        part
        for para in turn.paragraphs
        for s in split_sentences(para.text, para.start)
        for part in _bounded(s)
    ]
    chunks = []
    for piece_no, piece in enumerate(_pack(sentences, max_chars), 1):
        start, end = piece[0].start, piece[-1].end
        text = transcript.text[start:end]
        cid = ix.chunk_id(transcript.id, turn.number, piece_no)
        meta = {
            ix.K_TRANSCRIPT: transcript.id,
            ix.K_TITLE: transcript.title,
            ix.K_SOURCE: source,
            ix.K_QUESTION: turn.question,
            ix.K_SPEAKER: turn.speaker,
            ix.K_ROLE: turn.role or (transcript.role if turn.speaker == transcript.interviewee else ""),
            ix.K_LABEL: turn.label,
            ix.K_ASKED_BY: turn.asked_by,
            ix.K_PROMPT_TURN: turn.prompted_by,
            ix.K_KIND: transcript.kind,
            ix.K_TURN: turn.number,
            ix.K_PIECE: piece_no,
            ix.K_START: start,
            ix.K_END: end,
            ix.K_TIMESTAMP: turn.timestamp,
            ix.K_NSENT: len(piece),
        }
        digest = hashlib.sha256(
            json.dumps([text, meta, [(s.start, s.end) for s in piece]], sort_keys=True).encode()
        ).hexdigest()
        meta[ix.K_HASH] = digest
        chunks.append(Chunk(cid, text, turn.question, meta, piece))
    return chunks


def intro_turn(transcript: Transcript) -> Turn | None:
    """The title and intro as turn 0 (they name who is speaking, their job, the occasion: a
    reader asks about them), with spans where they stand in the text; None without an intro."""
    if not transcript.intro.strip():
        return None
    paragraphs, pos = [], 0
    for part in [transcript.title, *transcript.intro.split("\n\n")]:
        part = part.strip()
        at = transcript.text.find(part, pos) if part else -1
        if at >= 0:
            paragraphs.append(Paragraph(part, at, at + len(part)))
            pos = at + len(part)
    if not paragraphs:
        return None
    return Turn(0, "", "", paragraphs)


def chunk_transcript(transcript: Transcript, max_chars: int, source: str = "") -> list[Chunk]:
    """All pieces of a transcript, in order: the intro (turn 0), then every turn."""
    intro = intro_turn(transcript)
    turns = [intro, *transcript.turns] if intro else transcript.turns
    return [c for turn in turns for c in chunk_turn(transcript, turn, max_chars, source)]
