"""Request and response models of the REST API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator


class Message(BaseModel):
    role: Literal["user", "assistant", "system"] = Field(description="Who said it (OpenAI-style).")
    content: str = Field(description="What was said.")


class ChatRequest(BaseModel):
    messages: list[Message] = Field(
        min_length=1, max_length=50, description="The conversation; the last turn is the user's question."
    )
    top_k: int | None = Field(None, ge=1, le=20, description="How many passages to retrieve (1–20).")
    stream: bool = Field(False, description="Answer as Server-Sent Events.")

    @field_validator("messages")
    @classmethod
    def _last_is_question(cls, messages: list[Message]) -> list[Message]:
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
