"""The transcripts of an index generation as its chunk records describe them: the list
(`GET /v1/transcripts`) and one transcript rebuilt turn by turn (`GET /v1/transcripts/{id}`).

Everything comes from `Snapshot.docs` (chunk id -> (text, metadata)), grouped once per snapshot
(service/rag/per_snapshot.py), so repeat calls cost a lookup. A source file is shown by its name
only: like /health, these answers never show a path on the server.

A transcript whose intro names its recording (a `Video: https://…` line, or an address of an audio
or video file) gets a `media_url`, and each timed turn a link to the recording at that time.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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


_URL = r"https?://[^\s<>\"'()\[\]]+"
# "Video: https://…", "Recording (audio): https://…": a labelled address is the recording, whatever it ends with
_MEDIA_LINE = re.compile(
    r"\b(?:video|audio|media|recording|watch|listen|podcast|stream)\b[^\n:]{0,40}:[ \t]*(" + _URL + ")",
    re.IGNORECASE)
_MEDIA_FILE = re.compile(r"\.(?:mp4|m4v|mov|webm|mkv|mp3|m4a|aac|ogg|oga|opus|wav|flac)$", re.IGNORECASE)
_VIDEO_HOSTS = ("youtube.com", "www.youtube.com", "m.youtube.com", "youtu.be", "vimeo.com", "www.vimeo.com")


def _address(raw: str) -> str | None:
    """An http(s) address without its trailing punctuation; None for anything else (credentials too)."""
    url = raw.rstrip(".,;:!?")
    parts = urlsplit(url)
    ok = parts.scheme in ("http", "https") and parts.hostname and not (parts.username or parts.password)
    return url if ok else None


def find_media_url(intro: str) -> str | None:
    """The recording a transcript's intro names: the address on a `Video:`/`Audio:`/`Recording:`
    line, else the first address of an audio or video file or a video site; None if there is none."""
    if (labelled := _MEDIA_LINE.search(intro)) and (url := _address(labelled.group(1))):
        return url
    for raw in re.findall(_URL, intro):
        url = _address(raw)
        if url and (_MEDIA_FILE.search(urlsplit(url).path) or urlsplit(url).hostname in _VIDEO_HOSTS):
            return url
    return None


def _seconds(timestamp: str) -> int | None:
    parts = timestamp.split(":")
    if not 2 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        return None
    seconds = 0
    for p in parts:
        seconds = seconds * 60 + int(p)
    return seconds


def media_at(url: str | None, timestamp: str | None) -> str | None:
    """`url` opened at `timestamp` (HH:MM:SS): YouTube's `t=` parameter, Vimeo's `#t=Ns`, else a
    W3C media fragment `#t=N` (players of plain audio/video files honour it); `url` as it is
    without a timestamp, None without a url."""
    if not url:
        return None
    seconds = _seconds(timestamp or "")
    if seconds is None:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host.endswith("youtube.com") or host == "youtu.be":
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "t"]
        return urlunsplit(parts._replace(query=urlencode([*query, ("t", f"{seconds}s")])))
    if host.endswith("vimeo.com"):
        return urlunsplit(parts._replace(fragment=f"t={seconds}s"))
    return urlunsplit(parts._replace(fragment=f"t={seconds}"))


def _kind(meta: dict) -> str:
    return meta.get(ix.K_KIND) or "interview"  # indexes from before conversations were told apart


def _intro(records: list[Record]) -> str:
    """The text before the first turn (turn 0), the title taken off."""
    title = records[0][1].get(ix.K_TITLE) or ""
    intro = " ".join(text for text, meta in records if int(meta.get(ix.K_TURN, 0)) == 0).strip()
    return intro.removeprefix(title).strip() if title and intro.startswith(title) else intro


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
        media_url=find_media_url(_intro(records)),
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


def _media(snapshot) -> dict[str, str]:
    intros: dict[str, list[Record]] = defaultdict(list)
    for text, meta in snapshot.docs.values():  # only the intros: cheaper than the whole library
        if int(meta.get(ix.K_TURN, 0)) == 0:
            intros[meta.get(ix.K_TRANSCRIPT, "")].append((text, meta))
    found = {tid: find_media_url(_intro(sorted(recs, key=_place))) for tid, recs in intros.items()}
    return {tid: url for tid, url in found.items() if url}


_MEDIA = PerSnapshot(_media)


def media_urls(snapshot) -> dict[str, str]:
    """Transcript id -> the address of its recording, for the transcripts whose intro names one."""
    return _MEDIA.get(snapshot)


def _turn(number: int, pieces: list[Record], media_url: str | None) -> TranscriptTurn:
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
        media_url=media_at(media_url, meta.get(ix.K_TIMESTAMP)) if meta.get(ix.K_TIMESTAMP) else None,
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
    pieces.pop(0, None)
    media = media_urls(snapshot).get(transcript_id)
    return TranscriptDetail(
        id=transcript_id,
        title=records[0][1].get(ix.K_TITLE) or transcript_id,
        kind=_kind(records[0][1]),
        intro=_intro(records) or None,
        turns=[_turn(number, turn, media) for number, turn in pieces.items()],
        media_url=media,
        index_generation=library.generation,
    )
