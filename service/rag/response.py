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
from service.rag.passages import P_LAST_TURN, members_of, speakers_of
from service.rag.retrieve import Hit, Retrieval


def to_sources(retrieval: Retrieval, quotes: Sequence[Quote] = ()) -> list[Source]:
    """The passages as numbered sources, each with the sentences of it that the answer quotes (and
    the transcript's recording at the passage's time, when the transcript names one). A source's
    speaker, turn and time are those of the turn its first quote is from: a citation opens where
    the quoted words were said."""
    media = library.media_urls(retrieval.snapshot) if retrieval.hits else {}
    out = []
    for n, hit in enumerate(retrieval.hits, 1):
        m = hit.meta
        quoted = [q for q in quotes if q.n == n]
        turn = quoted_turn(retrieval, hit, quoted[0]) if quoted else m
        out.append(
            Source(
                n=n, id=hit.id, transcript=m.get(ix.K_TRANSCRIPT, ""), title=m.get(ix.K_TITLE, ""),
                question=m.get(ix.K_QUESTION, ""), speaker=turn.get(ix.K_SPEAKER, ""),
                speakers=list(speakers_of(m)), text=hit.text, score=hit.score, turn=turn.get(ix.K_TURN, 0),
                first_turn=m.get(ix.K_TURN, 0), last_turn=m.get(P_LAST_TURN, m.get(ix.K_TURN, 0)), start=m.get(ix.K_START, 0),
                end=m.get(ix.K_END, 0), timestamp=turn.get(ix.K_TIMESTAMP, ""),
                quotes=[q.text for q in quoted],
                media_url=library.media_at(media.get(m.get(ix.K_TRANSCRIPT, "")), turn.get(ix.K_TIMESTAMP, "")),
            )
        )
    return out


def quoted_turn(retrieval: Retrieval, hit: Hit, quote: Quote) -> dict:
    """The metadata of the turn of `hit`'s passage that holds `quote` (by its span in the file)."""
    docs = retrieval.snapshot.docs
    for cid in members_of(hit.meta, hit.id):
        meta = docs.get(cid, ("", hit.meta))[1]
        if meta.get(ix.K_START, 0) <= quote.start < meta.get(ix.K_END, 0):
            return meta
    return hit.meta


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
