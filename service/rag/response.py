"""The response shape: one `ChatResponse` builder for every answer, its sources, and its timings.

Whichever way an answer was made (quoted by the built-in answerer, an abstention of the evidence
check, or generated and verified), `build_response` turns it into the API's `ChatResponse`, so
every endpoint reports the same fields, `index_generation` included.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from ingest import store as ix
from service.rag import library
from service.rag.chat_types import ChatResponse, Source, Timings
from service.rag.citations import Checked
from service.rag.extractive import Answer, Quote
from service.rag.retrieve import Retrieval


def to_sources(retrieval: Retrieval, quotes: Sequence[Quote] = ()) -> list[Source]:
    """The passages as numbered sources, each with the sentences of it that the answer quotes (and
    the transcript's recording at the passage's time, when the transcript names one)."""
    media = library.media_urls(retrieval.snapshot) if retrieval.hits else {}
    out = []
    for n, hit in enumerate(retrieval.hits, 1):
        m = hit.meta
        out.append(
            Source(
                n=n, id=hit.id, transcript=m.get(ix.K_TRANSCRIPT, ""), title=m.get(ix.K_TITLE, ""),
                question=m.get(ix.K_QUESTION, ""), speaker=m.get(ix.K_SPEAKER, ""), text=hit.text,
                score=hit.score, turn=m.get(ix.K_TURN, 0), start=m.get(ix.K_START, 0),
                end=m.get(ix.K_END, 0), timestamp=m.get(ix.K_TIMESTAMP, ""),
                quotes=[q.text for q in quotes if q.n == n],
                media_url=library.media_at(media.get(m.get(ix.K_TRANSCRIPT, "")), m.get(ix.K_TIMESTAMP, "")),
            )
        )
    return out


class Clock:
    """Timings of one request."""

    def __init__(self):
        self.started = time.perf_counter()
        self.rewrite_ms = 0.0
        self.generation_started: float | None = None
        self.first_token_ms: float | None = None

    def since(self, t: float) -> float:
        return round((time.perf_counter() - t) * 1000, 2)

    def token(self) -> None:
        """A piece of the answer is ready (the first one sets `first_token_ms`)."""
        if self.first_token_ms is None:
            self.first_token_ms = self.since(self.started)

    def generating(self) -> None:
        """The answer stage starts now."""
        self.generation_started = time.perf_counter()

    def generation_seconds(self) -> float:
        """Seconds since the answer stage started (for the `answer` stage metric)."""
        return time.perf_counter() - (self.generation_started or self.started)

    def timings(self, retrieval: Retrieval) -> Timings:
        gen = self.since(self.generation_started) if self.generation_started else 0.0
        return Timings(retrieval_ms=round(retrieval.ms, 2), rewrite_ms=self.rewrite_ms, generation_ms=gen,
                       first_token_ms=self.first_token_ms, total_ms=self.since(self.started))


def build_response(retrieval: Retrieval, answer: Answer | Checked, mode: str, standalone: str | None,
                   evidence: float | None, timings: Timings) -> ChatResponse:
    """The API response for `answer` (quoted or generated) over the passages of `retrieval`.

    `standalone` is the question as searched, when it is not the user's; `evidence` the strength
    of the best evidence (None when no evidence check ran).
    """
    quotes = answer.quotes if isinstance(answer, Answer) else []
    return ChatResponse(
        answer=answer.text,
        abstained=answer.abstained,
        sources=to_sources(retrieval, quotes),
        citations=answer.citations,
        verified=answer.verified,
        mode=mode,
        evidence=evidence,
        standalone_question=standalone,
        timings=timings,
        index_generation=retrieval.snapshot.generation,
    )
