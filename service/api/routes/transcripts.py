"""The transcripts of the index: GET /v1/transcripts (each with its speakers and counts) and
GET /v1/transcripts/{id} (one rebuilt turn by turn). The work is in service/rag/library.py."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from service.api.deps import PipelineDep
from service.api.schemas import TranscriptDetail, TranscriptList
from service.rag import library

router = APIRouter(tags=["transcripts"])


@router.get("/v1/transcripts", response_model=TranscriptList)
def list_transcripts(pipeline: PipelineDep) -> TranscriptList:
    """Every transcript of the live index generation, by id: title, kind, speakers (most turns
    first), turns, passages, when it was ingested, its file name. The ids and speaker names are
    what `filters` on POST /v1/chat take."""
    return library.transcripts(pipeline.live_snapshot())


@router.get(
    "/v1/transcripts/{transcript_id:path}",
    response_model=TranscriptDetail,
    responses={404: {"description": "No transcript has this id (`detail` names it)."}},
)
def get_transcript(transcript_id: str, pipeline: PipelineDep) -> TranscriptDetail:
    """One transcript rebuilt from the index: its intro and every turn in order (speaker, role,
    text, character spans; an interview answer's question; the turn a conversation turn follows).
    An id may contain `/` (a transcript in a subfolder)."""
    try:
        return library.transcript(pipeline.live_snapshot(), transcript_id)
    except library.UnknownTranscript as exc:
        raise HTTPException(404, str(exc)) from None
