"""Request and response models of the REST API."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from service.rag.unicode_text import lone_surrogate


def _unicode_text(text: object) -> object:
    """A string must be Unicode text: a lone surrogate (JSON `"\\ud800"`) is a 422 naming the field.
    Checked before the string's own validation, whose constraints fail on it less clearly."""
    if isinstance(text, str) and (bad := lone_surrogate(text)):
        raise ValueError(f"contains U+{ord(bad.group()):04X} at character {bad.start()}, a lone surrogate, "
                         "which is not Unicode text (a \\uD800–\\uDFFF escape in JSON must be half of a pair)")
    return text


Text = Annotated[str, BeforeValidator(_unicode_text)]


class Message(BaseModel):
    role: Literal["user", "assistant", "system"] = Field(description="Who said it (OpenAI-style).")
    content: Text = Field(description="What was said (Unicode text; it is normalised to NFC, without "
                          "invisible format characters, once it is within the service's caps).")


FilterValue = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), BeforeValidator(_unicode_text)]


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
        # Only checks linear in the body here: this runs on the event loop, before the caps
        # (service/edge/input_caps.py), which then normalise the text.
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
