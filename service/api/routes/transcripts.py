"""The transcripts of the index: GET /v1/transcripts (a page of them, each with its first speakers
and its counts) and GET /v1/transcripts/{id} (one rebuilt turn by turn, a page of turns and of
speakers at a time). The work is in service/rag/library.py.

Every answer is bounded by its page sizes, whatever the folder holds (a transcript may have 20,000
speakers), and is rendered to JSON in the worker thread of these plain `def` routes, once per
index snapshot (service/api/rendered.py): FastAPI would serialise a returned model on the event loop.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from service.api.deps import PipelineDep
from service.api.rendered import json_response
from service.rag import library
from service.rag.library import Window
from service.rag.library_types import TranscriptDetail, TranscriptList

router = APIRouter(tags=["transcripts"])

LIST_LIMIT, LIST_MAX = 100, 1000  # transcripts a page lists: default, most
SPEAKERS_LIMIT, SPEAKERS_MAX = 50, 1000  # speakers listed with each transcript
TURNS_LIMIT, TURNS_MAX = 1000, 5000  # turns of one transcript a page holds
DETAIL_SPEAKERS_LIMIT = 100  # speakers one page of a transcript lists

Offset = Annotated[int, Query(ge=0, le=10_000_000, description="How many to skip (from 0).")]
Search = Annotated[str, Query(max_length=200, description="Text to look for (case and accents ignored).")]


@router.get("/v1/transcripts", response_model=TranscriptList)
def list_transcripts(
    pipeline: PipelineDep,
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=LIST_MAX, description="Most transcripts to list.")] = LIST_LIMIT,
    speakers: Annotated[
        int, Query(ge=0, le=SPEAKERS_MAX, description="Most speakers to list with each transcript.")
    ] = SPEAKERS_LIMIT,
    q: Search = "",
) -> Response:
    """The transcripts of the live index generation in natural order of ids (covid_2 before covid_10), a page at a time (`offset`, `limit`;
    `total` says how many there are): title, kind, its first `speakers` speakers (most turns
    first) and `speaker_count`, turns, passages, when it was ingested, its file name. With `q`,
    only those whose title, id, file name or a speaker's name holds `q`, listing the speakers
    that match. The ids and speaker names are what `filters` on POST /v1/chat take."""
    snapshot = pipeline.live_snapshot()
    return json_response(snapshot, ("list", offset, limit, speakers, q),
                         lambda: library.transcripts_page(snapshot, Window(offset, limit), speakers, q))


@router.get(
    "/v1/transcripts/{transcript_id:path}",
    response_model=TranscriptDetail,
    responses={404: {"description": "No transcript has this id (`detail` names it)."}},
)
def get_transcript(
    transcript_id: str,
    pipeline: PipelineDep,
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=0, le=TURNS_MAX, description="Most turns to return.")] = TURNS_LIMIT,
    turn: Annotated[
        int | None, Query(ge=1, description="Return the page of `limit` turns that holds this turn number.")
    ] = None,
    speakers_offset: Offset = 0,
    speakers_limit: Annotated[
        int, Query(ge=0, le=SPEAKERS_MAX, description="Most speakers to list.")
    ] = DETAIL_SPEAKERS_LIMIT,
    speakers_q: Search = "",
) -> Response:
    """One transcript rebuilt from the index: its intro and a page of its turns in order (speaker,
    role, text, character spans; an interview answer's question; the turn a conversation turn
    follows), `total_turns`; a page of its speakers and `speaker_count`. An id may contain `/`
    (a transcript in a subfolder)."""
    snapshot = pipeline.live_snapshot()
    key = ("transcript", transcript_id, offset, limit, turn, speakers_offset, speakers_limit, speakers_q)
    try:
        return json_response(snapshot, key, lambda: library.transcript(
            snapshot, transcript_id, Window(offset, limit), Window(speakers_offset, speakers_limit),
            at_turn=turn, speakers_query=speakers_q))
    except library.UnknownTranscript as exc:
        raise HTTPException(404, str(exc)) from None
