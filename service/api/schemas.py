"""Models of the HTTP service itself: /health's answer.

What the answer path takes and gives lives with it, HTTP-free, and the routes serve it as is: the
chat request and answer in service/rag/chat_types.py, the transcripts in service/rag/library_types.py.
The OpenAI-compatible shapes are in openai_format.py.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


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
