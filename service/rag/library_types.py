"""What service/rag/library.py answers: the transcripts of the index as a list (`GET /v1/transcripts`)
and one transcript turn by turn (`GET /v1/transcripts/{id}`).

Plain pydantic models, HTTP-free: library.py builds them from the index; service/api serves them
as JSON (their OpenAPI schema is theirs).
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class SpeakerSummary(BaseModel):
    name: str = Field(description="The speaker's name as the index stores it (what `filters.speakers` matches).")
    role: str | None = Field(None, description="Their role or affiliation as the transcript gives it, if any.")
    turns: int = Field(description="How many turns they have in this transcript.")


class TranscriptSummary(BaseModel):
    id: str = Field(description="Transcript id: the file's path in the transcripts folder, without suffix "
                    "(`sub/name` for a file in a subfolder). Use it in `filters.transcripts`.")
    title: str
    kind: str = Field(
        description="`interview`: one interviewer's questions and the answers (a turn is an answer); "
        "`conversation`: hearings, panels, podcasts (a turn is one speaker's turn).")
    speakers: list[SpeakerSummary] = Field(
        description="Who speaks, most turns first: the first `speakers` of them (a query parameter), "
        "or with `q` those whose name holds it. `speaker_count` says how many there are in all.")
    speaker_count: int = Field(0, description="How many speakers the transcript has in all.")
    speakers_matching: int | None = Field(
        None, description="With `q`: how many of its speakers' names hold it (null without `q`, or when "
        "the transcript matched by its title, id or file name only).")
    turns: int = Field(description="Number of turns (the title and intro not counted).")
    chunks: int = Field(description="Passages indexed (a long turn is several).")
    ingested_at: str | None = Field(None, description="When this version of the file was ingested "
                                    "(ISO 8601, UTC); null if the index does not say.")
    source: str | None = Field(None, description="The source file's name (never a path on the server).")
    media_url: str | None = Field(None, description="The recording the transcript's intro names (a `Video:` or "
                                  "`Audio:` line, or an address of a media file), if any.")
    topics: list[str] = Field(default_factory=list, description="What it is about: its most distinctive terms "
                              "among the folder's transcripts, the most first (TF-IDF; service/rag/terms.py).")
    duration_seconds: int | None = Field(None, description="When its last timed turn starts, for transcripts with "
                                         "timestamps (subtitle formats); null otherwise.")


class TranscriptList(BaseModel):
    transcripts: list[TranscriptSummary] = Field(
        description="A page of the transcripts of the index (those matching `q`, if given), by id.")
    index_generation: int = Field(description="The index generation listed.")
    total: int = Field(0, description="How many transcripts match (all of them without `q`): page "
                       "through them with `offset` and `limit`.")
    offset: int = Field(0, description="The position of the first transcript listed.")
    limit: int | None = Field(None, description="The most transcripts one page lists.")
    transcript_count: int = Field(0, description="Transcripts in the index.")
    speaker_count: int = Field(0, description="Distinct speakers in the index.")
    turn_count: int = Field(0, description="Turns in all the transcripts.")
    timed_hours: float | None = Field(None, description="Hours of recording the timed transcripts span (the sum of "
                                      "their `duration_seconds`); null when none has timestamps.")


class TranscriptTurn(BaseModel):
    number: int = Field(description="Turn number (1-based).")
    speaker: str
    role: str | None = None
    label: str | None = Field(None, description="The speaker label as the transcript writes it, if any.")
    timestamp: str | None = Field(None, description="`HH:MM:SS` for subtitle formats, if any.")
    text: str = Field(description="What was said: the turn's passages in order, joined by a space.")
    spans: list[tuple[int, int]] = Field(
        description="[start, end] character span of each passage in the transcript's text (one per passage).")
    prompted_by: int | None = Field(
        None, description="Conversations: the number of the turn (by another speaker) this one follows.")
    question: str | None = Field(
        None, description="Interviews: the question this answer answers (it is not a turn of its own).")
    asked_by: str | None = Field(None, description="Interviews: who asked `question`, if known.")
    media_url: str | None = Field(None, description="The transcript's recording at this turn's `timestamp`, "
                                  "when it has both.")


class TranscriptDetail(BaseModel):
    id: str
    title: str
    kind: str = Field(description="`interview` or `conversation` (see GET /v1/transcripts).")
    intro: str | None = Field(None, description="The text before the first turn (after the title), if any.")
    turns: list[TranscriptTurn] = Field(
        description="A page of its turns, in order: `limit` turns from `offset` (every turn of a "
        "transcript shorter than the default page).")
    total_turns: int = Field(0, description="How many turns the transcript has in all.")
    offset: int = Field(0, description="The position (from 0) of the first turn in `turns`.")
    limit: int | None = Field(None, description="The most turns one page holds.")
    speakers: list[SpeakerSummary] = Field(
        default_factory=list, description="A page of its speakers, most turns first (`speakers_offset`, "
        "`speakers_limit`; with `speakers_q` those whose name holds it).")
    speaker_count: int = Field(0, description="How many speakers the transcript has in all.")
    speakers_matching: int | None = Field(
        None, description="With `speakers_q`: how many of its speakers' names hold it.")
    media_url: str | None = Field(None, description="The recording the transcript's intro names, if any.")
    index_generation: int = Field(description="The index generation this was rebuilt from.")


class TopicQuote(BaseModel):
    text: str = Field(description="The sentence of the turn closest in meaning to the topic.")
    transcript: str
    title: str
    speaker: str
    turn: int = Field(description="The turn it is said in (open it with GET /v1/transcripts/{id}?turn=…).")
    timestamp: str = Field("", description="When the turn starts in the recording, for subtitle formats.")
    start: int = Field(description="Character span of the sentence in its transcript file.")
    end: int


class TopicGroup(BaseModel):
    transcript: str | None = Field(None, description="The transcript (null in `speakers`).")
    title: str | None = None
    speaker: str | None = Field(None, description="The speaker (null in `transcripts`).")
    turns: int = Field(description="How many of its turns are about the topic.")
    weight: float = Field(description="How much of it is about the topic: each such turn counts from 0 to 1 by "
                          "how well it matches (the ranking is by this).")
    transcript_count: int = Field(1, description="In how many transcripts (a speaker's row).")
    quote: TopicQuote = Field(description="Its best sentence on the topic.")


class TopicResult(BaseModel):
    topic: str
    found: bool = Field(description="False when the transcripts do not cover the topic (then every list is empty).")
    turns: int = Field(0, description="Turns about the topic, in all.")
    transcripts: list[TopicGroup] = Field(default_factory=list, description="The transcripts, the most about it first.")
    speakers: list[TopicGroup] = Field(default_factory=list, description="The speakers, the most about it first.")
    cells: list[TopicGroup] = Field(default_factory=list, description="Transcript × speaker: each speaker's turns "
                                    "about the topic in each transcript, the most first.")
    track: list[TopicQuote] | None = Field(None, description="With `track`: that speaker's turns about the topic "
                                           "across the transcripts, in the transcripts' order, then turn order.")
    index_generation: int
