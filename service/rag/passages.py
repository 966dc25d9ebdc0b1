"""Passages: the units that retrieval scores and that answers quote and cite.

The index stores turns (a speaker's turn, or one piece of a long turn: ingest/chunk.py). In a
meeting, most turns are a few words ("Mm-hmm.", "Okay, so the buttons."): alone they carry nothing,
and the turn that says something is often half of an exchange. So a conversation's passage is a
window of consecutive turns, grown turn by turn until it holds `target` characters and never past
`limit` (a piece that is long on its own stands alone); every line keeps its speaker. A hearing's
long answer is one passage; a meeting's exchange of short turns is one passage. An interview
answer is a passage on its own, its pieces together up to `limit` (it carries the question it
answers), and so is a transcript's intro (turn 0).

Windows do not overlap, so each turn is cited once. They are cut when a snapshot is read, from the
turns as stored: the sizes are the retriever's choice (fitted in bench/), and changing them needs
no re-ingest. A passage's vector is the length-weighted mean of its turns' vectors (mean pooling,
as the model pools a text's tokens); its keyword text is its turns' keyword texts together.

A scope of speakers ("what did Hill say") is searched over `turns` (every turn its own passage):
a window would bring in the words of people the user did not ask for.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import bm25s
import numpy as np

from ingest import store as ix

# Keys a passage's metadata adds to its first turn's (they are not stored in Chroma).
P_MEMBERS = "members"  # the ids of its turns (chunks), in order
P_SPEAKERS = "speakers"  # who speaks in it, in order of first line
P_LAST_TURN = "last_turn"  # the number of its last turn



def pack(lengths: list[int], target: int, limit: int) -> list[range]:
    """Consecutive items cut into windows: each grows until it holds `target` characters, never
    past `limit`; a short last window joins the one before when they fit together."""
    windows: list[range] = []
    start, size = 0, 0
    for i, n in enumerate(lengths):
        if i > start and (size >= target or size + n > limit):
            windows.append(range(start, i))
            start, size = i, 0
        size += n
    if lengths:
        last = range(start, len(lengths))
        if windows and size < target and sum(lengths[j] for j in windows[-1]) + size <= limit:
            last = range(windows.pop().start, len(lengths))
        windows.append(last)
    return windows


def labelled(members: list[tuple[str, dict]]) -> str:
    """The text of several turns, one line a turn, each opening with its speaker ("Marketing: Mm-hmm.");
    the pieces of one turn stay on one line."""
    lines: list[str] = []
    turn = None
    for text, meta in members:
        if lines and meta.get(ix.K_TURN) == turn:
            lines[-1] += " " + text
        else:
            speaker = meta.get(ix.K_SPEAKER, "")
            lines.append(f"{speaker}: {text}" if speaker else text)
        turn = meta.get(ix.K_TURN)
    return "\n".join(lines)


@dataclass
class Passages:
    """Passages of one snapshot, one row each in every array (row order of `ids`)."""

    ids: list[str]  # a passage's id is its first turn's chunk id
    texts: list[str]
    metas: list[dict]
    members: list[tuple[str, ...]]
    tokens: list[list[str]]  # keyword tokens
    vectors: np.ndarray  # (passages, dim) unit vectors
    transcript_of: np.ndarray  # row -> transcript code
    speaker_rows: dict[str, np.ndarray]  # speaker -> rows where they speak
    speaker_chars: dict[str, np.ndarray]  # speaker -> characters they speak in each of those rows
    bm25: bm25s.BM25 | None = None  # over `tokens` (set by the retriever)
    phrases: bm25s.BM25 | None = None  # over `tokens` read as pairs of adjacent tokens

    def rows_in(self, scope, transcript_ids: list[str]) -> np.ndarray | None:
        """A mask of the rows a scope (service/rag/scope.py) allows; None: every row."""
        if scope is None:
            return None
        mask = np.ones(len(self.ids), bool)
        if scope.transcripts is not None:
            codes = [i for i, t in enumerate(transcript_ids) if t in scope.transcripts]
            mask &= np.isin(self.transcript_of, codes)
        if scope.speakers is not None:
            allowed = np.zeros(len(self.ids), bool)
            for name in scope.speakers:
                allowed[self.speaker_rows.get(name, [])] = True
            mask &= allowed
        return mask

    def hit(self, row: int) -> tuple[str, str, dict]:
        return self.ids[row], self.texts[row], self.metas[row]


def build(
    ids: list[str],
    docs: dict[str, tuple[str, dict]],
    vectors: np.ndarray,
    tokens: list[list[str]],
    transcript_code: dict[str, int],
    windowed: bool,
    target: int = 0,
    limit: int = 0,
) -> Passages:
    """Passages over the chunks `ids` (sorted, so each transcript's turns are consecutive and in
    order), whose vectors and keyword tokens are given row by row. `windowed`: a conversation's
    turns go into windows, and an interview answer's pieces make one passage (up to `limit`);
    else every chunk is a passage."""
    groups: list[list[int]] = []
    run: list[int] = []  # consecutive chunks that may share a passage
    key: tuple | None = None  # what they share: (transcript,) of a conversation; (transcript, turn) of an answer

    def flush() -> None:
        if run:
            lengths = [len(docs[ids[r]][0]) + len(docs[ids[r]][1].get(ix.K_SPEAKER, "")) + 3 for r in run]
            # an answer grows to the limit: its pieces answer one question
            grow = target if key is not None and len(key) == 1 else limit
            groups.extend([run[i] for i in window] for window in pack(lengths, grow, limit))
            run.clear()

    for row, cid in enumerate(ids):
        meta = docs[cid][1]
        turn = int(meta.get(ix.K_TURN, 0))
        here = None
        if windowed and turn > 0:
            conversation = meta.get(ix.K_KIND) == "conversation"
            here = (meta.get(ix.K_TRANSCRIPT),) if conversation else (meta.get(ix.K_TRANSCRIPT), turn)
        if run and here != key:
            flush()
        key = here
        if here is not None:
            run.append(row)
        else:
            groups.append([row])
    flush()
    return _passages(ids, docs, vectors, tokens, transcript_code, groups)


def _passages(ids, docs, vectors, tokens, transcript_code, groups: list[list[int]]) -> Passages:
    out_ids, texts, metas, members, toks = [], [], [], [], []
    rows_of: dict[str, list[int]] = defaultdict(list)
    chars_of: dict[str, list[int]] = defaultdict(list)
    dim = vectors.shape[1] if vectors.ndim == 2 else 1
    pooled = np.zeros((len(groups), dim), dtype=np.float32)
    for p, group in enumerate(groups):
        records = [docs[ids[r]] for r in group]
        first = records[0][1]
        if len(group) == 1:
            text, meta = records[0][0], first
        else:
            text, meta = labelled(records), dict(first)
        said: dict[str, int] = {}
        for t, m in records:
            if name := m.get(ix.K_SPEAKER, ""):
                said[name] = said.get(name, 0) + len(t)
        if len(group) > 1:
            meta[ix.K_SPEAKER] = max(said, key=said.get) if said else ""
            meta[ix.K_END] = records[-1][1].get(ix.K_END, 0)
            meta[P_LAST_TURN] = int(records[-1][1].get(ix.K_TURN, 0))
            meta[P_SPEAKERS] = tuple(said)
            meta[P_MEMBERS] = tuple(ids[r] for r in group)
        for name, n in said.items():
            rows_of[name].append(p)
            chars_of[name].append(n)
        weights = np.array([len(t) or 1 for t, _ in records], dtype=np.float32)
        v = weights @ vectors[group] if vectors.size else np.zeros(dim, np.float32)
        pooled[p] = v / (float(np.linalg.norm(v)) or 1.0)
        out_ids.append(ids[group[0]])
        texts.append(text)
        metas.append(meta)
        members.append(tuple(ids[r] for r in group))
        toks.append([t for r in group for t in tokens[r]])
    transcript_of = np.array([transcript_code[m.get(ix.K_TRANSCRIPT, "")] for m in metas], dtype=np.int64)
    return Passages(
        out_ids, texts, metas, members, toks, pooled, transcript_of,
        {n: np.array(r) for n, r in rows_of.items()},
        {n: np.array(c, dtype=np.float64) for n, c in chars_of.items()},
    )


def members_of(meta: dict, cid: str) -> tuple[str, ...]:
    """The chunk ids a hit's passage is made of (a single turn: itself)."""
    return meta.get(P_MEMBERS) or (cid,)


def speakers_of(meta: dict) -> tuple[str, ...]:
    """Who speaks in a hit's passage."""
    return meta.get(P_SPEAKERS) or ((meta[ix.K_SPEAKER],) if meta.get(ix.K_SPEAKER) else ())

