"""The transcripts of an index generation as its chunk records describe them: the list
(`GET /v1/transcripts`) and one transcript rebuilt turn by turn (`GET /v1/transcripts/{id}`).

Everything comes from `Snapshot.docs` (chunk id -> (text, metadata)), grouped once per snapshot
(service/rag/per_snapshot.py), so repeat calls cost a lookup. Both answers are pages (`Window`):
some transcripts, each with its first speakers; some turns and some speakers of one transcript;
their cost is that of the page, however many speakers or turns a transcript has. A source file is
shown by its name only: like /health, these answers never show a path on the server.

A transcript whose intro names its recording (a `Video: https://…` line, or an address of an audio
or video file) gets a `media_url`, and each timed turn a link to the recording at that time.
"""

from __future__ import annotations

import bisect
import re
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ingest import store as ix
from ingest.speakers import plain
from service.rag.library_types import (
    SpeakerSummary,
    TranscriptDetail,
    TranscriptList,
    TranscriptSummary,
    TranscriptTurn,
)
from service.rag.per_snapshot import PerSnapshot
from service.rag.terms import folder_terms
from service.rag.text import natural

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


def fold(text: str) -> str:
    """Text as a search compares it: accents off, case folded (`Sté-Marie` finds `Ste-Marie`)."""
    return plain(text).casefold()


def _summary(tid: str, records: list[Record], intro: str, topics: list[str]) -> TranscriptSummary:
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
    timed = [s for _, m in records if (s := _seconds(m.get(ix.K_TIMESTAMP) or "")) is not None]
    return TranscriptSummary(
        id=tid,
        title=first.get(ix.K_TITLE) or tid,
        kind=_kind(first),
        speakers=speakers,
        speaker_count=len(speakers),
        turns=len({turn for turn, _ in map(_place, records) if turn > 0}),
        chunks=len(records),
        ingested_at=_iso(ingested) if ingested is not None else None,
        source=_file_name(first.get(ix.K_SOURCE, "")),
        media_url=find_media_url(intro),
        topics=topics,
        duration_seconds=max(timed) if timed else None,
    )


@dataclass(frozen=True)
class Window:
    """A page of a list: `limit` items from `offset` (None: to the end)."""

    offset: int = 0
    limit: int | None = None

    def cut(self, items: list) -> list:
        return items[self.offset : None if self.limit is None else self.offset + self.limit]


@dataclass(frozen=True)
class Entry:
    """One transcript of the library: its full summary and what a search compares."""

    summary: TranscriptSummary
    about: str  # title, id and file name, folded
    speaker_names: list[str]  # its speakers' names, folded, in the order of summary.speakers
    intro: str
    turns: list[tuple[int, list[Record]]]  # (turn number, its pieces), in order; no intro


def _turns(records: list[Record]) -> list[tuple[int, list[Record]]]:
    pieces: dict[int, list[Record]] = defaultdict(list)
    for record in records:
        pieces[_place(record)[0]].append(record)
    pieces.pop(0, None)
    return list(pieces.items())


def _entry(tid: str, records: list[Record], topics: list[str]) -> Entry:
    intro = _intro(records)
    summary = _summary(tid, records, intro, topics)
    about = fold(" ".join(filter(None, (summary.title, tid, summary.source))))
    names = [fold(s.name) for s in summary.speakers]
    return Entry(summary, about, names, intro, _turns(records))


@dataclass(frozen=True)
class Library:
    generation: int
    entries: dict[str, Entry]  # transcript id -> its entry, in natural order of ids (covid_2 before covid_10)
    listing: TranscriptList  # every transcript with every speaker


def _build(snapshot) -> Library:
    records: dict[str, list[Record]] = defaultdict(list)
    for text, meta in snapshot.docs.values():
        records[meta.get(ix.K_TRANSCRIPT, "")].append((text, meta))
    topics = folder_terms(snapshot).terms
    entries = {tid: _entry(tid, sorted(records[tid], key=_place), topics.get(tid, []))
               for tid in sorted(records, key=natural)}
    summaries = [e.summary for e in entries.values()]
    timed = [t.duration_seconds for t in summaries if t.duration_seconds is not None]
    listing = TranscriptList(
        transcripts=summaries,
        index_generation=snapshot.generation,
        total=len(summaries),
        transcript_count=len(summaries),
        speaker_count=len({s.name for t in summaries for s in t.speakers}),
        turn_count=sum(t.turns for t in summaries),
        timed_hours=round(sum(timed) / 3600, 2) if timed else None,
    )
    return Library(snapshot.generation, entries, listing)


_LIBRARY = PerSnapshot(_build)
_BUILDING = threading.Lock()  # one build per snapshot: callers that come meanwhile wait for it


def _library(snapshot) -> Library:
    with _BUILDING:
        return _LIBRARY.get(snapshot)


def transcripts(snapshot) -> TranscriptList:
    """Every transcript of the snapshot, in natural order of ids, with all its speakers and counts."""
    return _library(snapshot).listing


def _speakers(entry: Entry, window: Window, query: str) -> dict:
    """The speakers of a transcript in `window` (those whose name holds `query` if given), and
    the counts that say what was left out."""
    every = entry.summary.speakers
    if not query:
        return {"speakers": window.cut(every), "speakers_matching": None}
    matching = [s for s, name in zip(every, entry.speaker_names) if query in name]
    return {"speakers": window.cut(matching), "speakers_matching": len(matching)}


def transcripts_page(snapshot, page: Window, speakers: int | None, query: str = "") -> TranscriptList:
    """A page of the transcripts (in natural order of ids: covid_2 before covid_10), each with its first `speakers` speakers (most
    turns first). With `query`, only the transcripts whose title, id, file name or a speaker's
    name holds it; a transcript found by its speakers lists those speakers."""
    library = _library(snapshot)
    query = fold(query.strip())
    found: list[tuple[Entry, dict]] = []
    for entry in library.entries.values():
        listed = _speakers(entry, Window(0, speakers), query)
        if query and not listed["speakers_matching"]:
            if query not in entry.about:
                continue
            listed = _speakers(entry, Window(0, speakers), "")
        found.append((entry, listed))
    return library.listing.model_copy(update={
        "transcripts": [entry.summary.model_copy(update=listed) for entry, listed in page.cut(found)],
        "total": len(found),
        "offset": page.offset,
        "limit": page.limit,
    })


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


def _turn_window(turns: list[tuple[int, list[Record]]], window: Window, at: int | None) -> Window:
    """`window`, or with `at` the page of `window.limit` turns that holds turn number `at`."""
    if at is None:
        return window
    index = bisect.bisect_left(turns, at, key=lambda turn: turn[0])
    index = min(index, max(len(turns) - 1, 0))
    return Window(index - index % window.limit if window.limit else index, window.limit)


def transcript(
    snapshot,
    transcript_id: str,
    turns: Window = Window(),
    speakers: Window = Window(),
    *,
    at_turn: int | None = None,
    speakers_query: str = "",
) -> TranscriptDetail:
    """One transcript rebuilt from its chunks: the intro and its turns in `turns` (or the page of
    that size holding turn `at_turn`), pieces joined in order; its speakers in `speakers` (those
    whose name holds `speakers_query`, if given). UnknownTranscript when the snapshot has no
    transcript with this id."""
    library = _library(snapshot)
    entry = library.entries.get(transcript_id)
    if entry is None:
        raise UnknownTranscript(
            f"no transcript in the index has the id '{transcript_id[:200]}'; "
            "GET /v1/transcripts lists the ids"
        )
    window = _turn_window(entry.turns, turns, at_turn)
    media = media_urls(snapshot).get(transcript_id)
    return TranscriptDetail(
        id=transcript_id,
        title=entry.summary.title,
        kind=entry.summary.kind,
        intro=entry.intro or None,
        turns=[_turn(number, pieces, media) for number, pieces in window.cut(entry.turns)],
        total_turns=len(entry.turns),
        offset=window.offset,
        limit=window.limit,
        speaker_count=len(entry.summary.speakers),
        **_speakers(entry, speakers, fold(speakers_query.strip())),
        media_url=media,
        index_generation=library.generation,
    )
