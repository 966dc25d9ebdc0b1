"""The transcripts of an index generation as its chunk records describe them: the list
(`GET /v1/transcripts`) and one transcript rebuilt turn by turn (`GET /v1/transcripts/{id}`).

Everything comes from `Snapshot.docs` (chunk id -> (text, metadata)), grouped once per snapshot
(service/rag/per_snapshot.py), so repeat calls cost a lookup. A source file is shown by its name
only: like /health, these answers never show a path on the server.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath

from ingest import store as ix
from service.api.schemas import (
    SpeakerSummary,
    TranscriptDetail,
    TranscriptList,
    TranscriptSummary,
    TranscriptTurn,
)
from service.rag.per_snapshot import PerSnapshot

Record = tuple[str, dict]  # a chunk's (text, metadata)


class UnknownTranscript(LookupError):
    """No transcript of the index has this id (the message names it and says where ids are)."""


def _place(record: Record) -> tuple[int, int]:
    meta = record[1]
    return int(meta.get(ix.K_TURN, 0)), int(meta.get(ix.K_PIECE, 1))


def _iso(unix: object) -> str | None:
    try:
        return datetime.fromtimestamp(float(unix), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _file_name(source: str) -> str | None:
    """The last part of a path written on any system (never the folders it is in)."""
    return PurePosixPath(source.replace("\\", "/")).name or None


def _kind(meta: dict) -> str:
    return meta.get(ix.K_KIND) or "interview"  # indexes from before conversations were told apart


def _summary(tid: str, records: list[Record]) -> TranscriptSummary:
    first = records[0][1]
    turns: dict[str, set[int]] = defaultdict(set)
    roles: dict[str, Counter] = defaultdict(Counter)
    for _, meta in records:
        turn, name = int(meta.get(ix.K_TURN, 0)), meta.get(ix.K_SPEAKER, "")
        if turn > 0 and name:
            turns[name].add(turn)
            if role := meta.get(ix.K_ROLE, ""):
                roles[name][role] += 1
    speakers = [
        SpeakerSummary(
            name=name,
            role=roles[name].most_common(1)[0][0] if roles[name] else None,
            turns=len(numbers),
        )
        for name, numbers in sorted(turns.items(), key=lambda item: (-len(item[1]), item[0]))
    ]
    ingested = max(
        (m[ix.K_INGESTED] for _, m in records if m.get(ix.K_INGESTED) is not None), default=None
    )
    return TranscriptSummary(
        id=tid,
        title=first.get(ix.K_TITLE) or tid,
        kind=_kind(first),
        speakers=speakers,
        turns=len({turn for turn, _ in map(_place, records) if turn > 0}),
        chunks=len(records),
        ingested_at=_iso(ingested) if ingested is not None else None,
        source=_file_name(first.get(ix.K_SOURCE, "")),
    )


@dataclass(frozen=True)
class Library:
    generation: int
    records: dict[str, list[Record]]  # transcript id -> its chunk records in (turn, piece) order
    listing: TranscriptList


def _build(snapshot) -> Library:
    records: dict[str, list[Record]] = defaultdict(list)
    for text, meta in snapshot.docs.values():
        records[meta.get(ix.K_TRANSCRIPT, "")].append((text, meta))
    ordered = {tid: sorted(records[tid], key=_place) for tid in sorted(records)}
    listing = TranscriptList(
        transcripts=[_summary(tid, recs) for tid, recs in ordered.items()],
        index_generation=snapshot.generation,
    )
    return Library(snapshot.generation, ordered, listing)


_LIBRARY = PerSnapshot(_build)


def transcripts(snapshot) -> TranscriptList:
    """Every transcript of the snapshot, sorted by id, with its speakers and counts."""
    return _LIBRARY.get(snapshot).listing


def _turn(number: int, pieces: list[Record]) -> TranscriptTurn:
    meta = pieces[0][1]
    interview = _kind(meta) == "interview"
    return TranscriptTurn(
        number=number,
        speaker=meta.get(ix.K_SPEAKER, ""),
        role=meta.get(ix.K_ROLE) or None,
        label=meta.get(ix.K_LABEL) or None,
        timestamp=meta.get(ix.K_TIMESTAMP) or None,
        text=" ".join(text for text, _ in pieces),
        spans=[(int(m.get(ix.K_START, 0)), int(m.get(ix.K_END, 0))) for _, m in pieces],
        prompted_by=int(meta.get(ix.K_PROMPT_TURN, 0)) or None,
        question=(meta.get(ix.K_QUESTION) or None) if interview else None,
        asked_by=(meta.get(ix.K_ASKED_BY) or None) if interview else None,
    )


def transcript(snapshot, transcript_id: str) -> TranscriptDetail:
    """One transcript rebuilt from its chunks: the intro and every turn, pieces joined in order.
    UnknownTranscript when the snapshot has no transcript with this id."""
    library = _LIBRARY.get(snapshot)
    records = library.records.get(transcript_id)
    if not records:
        raise UnknownTranscript(
            f"no transcript in the index has the id '{transcript_id[:200]}'; "
            "GET /v1/transcripts lists the ids"
        )
    pieces: dict[int, list[Record]] = defaultdict(list)
    for record in records:
        pieces[_place(record)[0]].append(record)
    title = records[0][1].get(ix.K_TITLE) or transcript_id
    intro = " ".join(text for text, _ in pieces.pop(0, []))
    intro = intro.removeprefix(title).strip() if intro.startswith(title) else intro.strip()
    return TranscriptDetail(
        id=transcript_id,
        title=title,
        kind=_kind(records[0][1]),
        intro=intro or None,
        turns=[_turn(number, turn) for number, turn in pieces.items()],
        index_generation=library.generation,
    )
