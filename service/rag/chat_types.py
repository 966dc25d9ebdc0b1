"""What the answer path takes and gives: a chat request (the conversation, its filters, top_k) and
the answer every caller gets (sources, citations, timings).

Plain pydantic models, HTTP-free: the pipeline, rag-eval and the benchmarks build and read them
directly; service/api takes and returns them as the JSON of /v1/chat (their OpenAPI schema is
theirs), and the OpenAI-compatible facade converts to and from them.
"""

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


class TopicRequest(BaseModel):
    """POST /v1/topics: which transcripts and speakers talk about a topic, and how much."""

    model_config = ConfigDict(extra="forbid")

    topic: str = Field(min_length=1, max_length=500, description="What to look for, as a few words or a question.",
                       examples=["school exclusions"])
    filters: ChatFilters | None = Field(None, description="Within these transcripts and speakers only (as on /v1/chat).")
    track: FilterValue | None = Field(None, description="A speaker: also list their turns about the topic across "
                                      "the transcripts, in order (a speaker track).")


class ChatRequest(BaseModel):
    messages: list[Message] = Field(
        min_length=1, max_length=50, description="The conversation; the last turn is the user's question."
    )
    top_k: int | None = Field(None, ge=1, le=20, description="How many passages to retrieve (1–20).")
    stream: bool = Field(False, description="Answer as Server-Sent Events.")
    filters: ChatFilters | None = Field(
        None, description="Answer only from some transcripts and/or speakers (422 naming any value that "
        "names nothing; `GET /v1/transcripts` lists the ids and speakers).")
    exclude: list[Annotated[str, StringConstraints(max_length=500)]] = Field(
        default_factory=list, max_length=50,
        description="Passage ids (`sources[].id`) not to answer from: another answer than one given "
        "(the page's Regenerate in built-in mode sends the ids of the passages the last answer quoted).")

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
    id: str = Field(description="Stable id of the passage's first turn (transcript + turn + piece).")
    transcript: str
    title: str
    question: str = Field(description="The interviewer question this passage answers.")
    speaker: str = Field(description="Who says the sentence the answer quotes from this passage (else who "
                         "says most of it).")
    speakers: list[str] = Field(default_factory=list, description="Everyone who speaks in the passage, in order: "
                                "a conversation's passage is several consecutive turns, each line opening "
                                "with its speaker's name.")
    text: str
    score: float = Field(description="Fused relevance; higher is better.")
    turn: int = Field(0, description="The turn of `speaker`'s quoted words (else the passage's first turn).")
    first_turn: int = Field(0, description="The passage's first turn (0: the introduction).")
    last_turn: int = Field(0, description="The passage's last turn.")
    start: int = Field(0, description="Character span of the passage in its transcript file.")
    end: int = 0
    timestamp: str = Field("", description="When `turn` starts in the recording, for subtitle formats.")
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
    alternatives: bool | None = Field(
        None, description="Built-in answers: whether the next passages hold another answer (ask again with "
        "the ids of the sources it quotes in `exclude`); null where it is not known (an LLM's answer, an "
        "answer about the folder as a whole, an abstention).")
