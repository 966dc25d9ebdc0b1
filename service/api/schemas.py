"""Request and response models of the REST API."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator


class Message(BaseModel):
    role: Literal["user", "assistant", "system"] = Field(description="Who said it (OpenAI-style).")
    content: str = Field(description="What was said.")


FilterValue = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class ChatFilters(BaseModel):
    """What an answer may come from. Values within a list are alternatives; both lists together
    must both hold. An empty or missing list limits nothing."""

    model_config = ConfigDict(extra="forbid")  # a misspelt filter is an error, never a silent no-op

    transcripts: list[FilterValue] | None = Field(
        None, max_length=100, description="Transcript ids, exactly as `GET /v1/transcripts` lists them "
        "(`sub/name` for a file in a subfolder): answer only from these transcripts.",
        examples=[["committees/finance-hearing"]])
    speakers: list[FilterValue] | None = Field(
        None, max_length=100, description="Speakers, written as people write them (`Ste-Marie`, `Mr. Ste-Marie`, "
        "`Mr. Gabriel Ste-Marie (Joliette, BQ)`) or as a transcript's speaker label (`The Chair`): answer only "
        "from what they said. An unknown name, or one who never speaks in `transcripts`, is a 422.",
        examples=[["Ste-Marie"]])


class ChatRequest(BaseModel):
    messages: list[Message] = Field(
        min_length=1, max_length=50, description="The conversation; the last turn is the user's question."
    )
    top_k: int | None = Field(None, ge=1, le=20, description="How many passages to retrieve (1–20).")
    stream: bool = Field(False, description="Answer as Server-Sent Events.")
    filters: ChatFilters | None = Field(
        None, description="Answer only from some transcripts and/or speakers (422 naming any value that "
        "names nothing; `GET /v1/transcripts` lists the ids and speakers).")

    @field_validator("messages")
    @classmethod
    def _last_is_question(cls, messages: list[Message]) -> list[Message]:
        for m in messages:  # invisible format characters (zero-width spaces…) split words apart
            m.content = unicodedata.normalize("NFC", "".join(c for c in m.content if unicodedata.category(c) != "Cf"))
        if messages[-1].role != "user":
            raise ValueError("the last message must be the user's question (role 'user')")
        if not messages[-1].content.strip():
            raise ValueError("the question is empty: write a question in the last user message")
        return messages

    @property
    def question(self) -> str:
        return self.messages[-1].content.strip()

    @property
    def history(self) -> list[str]:
        """Earlier user questions, oldest first."""
        return [m.content.strip() for m in self.messages[:-1] if m.role == "user" and m.content.strip()]


class Source(BaseModel):
    n: int = Field(description="Citation number used in the answer as [n].")
    id: str = Field(description="Stable chunk id (transcript + turn + piece).")
    transcript: str
    title: str
    question: str = Field(description="The interviewer question this passage answers.")
    speaker: str
    text: str
    score: float = Field(description="Fused relevance; higher is better.")
    turn: int = 0
    start: int = Field(0, description="Character span of the passage in its transcript file.")
    end: int = 0
    timestamp: str = ""
    quotes: list[str] = Field(default_factory=list, description="Sentences of this passage quoted in the answer.")
    media_url: str | None = Field(None, description="The recording the transcript names, opened at `timestamp` "
                                  "when the passage has one; null when the transcript names no recording.")


class Timings(BaseModel):
    retrieval_ms: float = 0.0
    rewrite_ms: float = 0.0
    generation_ms: float = 0.0
    first_token_ms: float | None = None
    total_ms: float = 0.0


class ChatResponse(BaseModel):
    answer: str
    abstained: bool
    sources: list[Source]
    citations: list[int] = Field(default_factory=list, description="Source numbers the answer cites.")
    verified: bool = Field(True, description="Every citation points at a given source (and there is one).")
    mode: str = "extractive"
    evidence: float | None = Field(None, description="Strength of the best evidence (abstention compares it).")
    standalone_question: str | None = Field(None, description="The question as searched (follow-ups).")
    timings: Timings = Field(default_factory=Timings)
    index_generation: int | None = Field(None, description="Index generation the passages came from.")


class Health(BaseModel):
    status: str
    transcripts: int
    chunks: int
    embedding_model: str
    answer_mode: str
    llm_model: str | None = None
    store: str = Field(description="`embedded (collection NAME)` or `chroma server HOST:PORT …`; never a "
                       "filesystem path.")
    chroma: str = Field("ok", description="`ok`, or why the Chroma store does not answer (status is then `degraded`).")
    max_question_chars: int | None = Field(None, description="Longest question POST /v1/chat accepts (characters).")
    max_turns: int | None = Field(None, description="Most messages one chat request may carry.")
    max_conversation_chars: int | None = Field(
        None, description="Most characters all the messages of one chat request may hold together.")


# --- the transcripts of the index (GET /v1/transcripts, GET /v1/transcripts/{id}) -------------
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
    speakers: list[SpeakerSummary] = Field(description="Who speaks, most turns first.")
    turns: int = Field(description="Number of turns (the title and intro not counted).")
    chunks: int = Field(description="Passages indexed (a long turn is several).")
    ingested_at: str | None = Field(None, description="When this version of the file was ingested "
                                    "(ISO 8601, UTC); null if the index does not say.")
    source: str | None = Field(None, description="The source file's name (never a path on the server).")
    media_url: str | None = Field(None, description="The recording the transcript's intro names (a `Video:` or "
                                  "`Audio:` line, or an address of a media file), if any.")


class TranscriptList(BaseModel):
    transcripts: list[TranscriptSummary] = Field(description="Every transcript of the index, by id.")
    index_generation: int = Field(description="The index generation listed.")


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
    turns: list[TranscriptTurn] = Field(description="Every turn, in order.")
    media_url: str | None = Field(None, description="The recording the transcript's intro names, if any.")
    index_generation: int = Field(description="The index generation this was rebuilt from.")
