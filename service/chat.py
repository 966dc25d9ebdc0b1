"""The chat pipeline: retrieve, answer, shape the response. HTTP-free so tests and eval call it.

`run` answers in one go; `astream` yields the same answer as events (sources, then text
pieces, then the full response) for Server-Sent Events and the OpenAI-compatible facade.
Both modes stream: the built-in answerer word by word, the LLM token by token.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from ingest import index as ix
from service.answer import Answer, ExtractiveAnswerer
from service.generate import CitationFilter, LLMAnswerer, LLMError, Prepared
from service.metrics import observe_stage
from service.retrieve import Retrieval, Retriever
from service.sanitize import SafeAnswer, clean_answer
from service.schemas import ChatRequest, ChatResponse, Source, Timings


def to_sources(retrieval: Retrieval, answer: Answer | None = None) -> list[Source]:
    quotes = answer.quotes if answer else []
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
            )
        )
    return out


# --- stream events ----------------------------------------------------------------------------
@dataclass
class SourcesEvent:
    """The passages found (sent before any answer text)."""

    sources: list[Source]
    standalone_question: str | None


@dataclass
class TokenEvent:
    """The next piece of answer text."""

    text: str


@dataclass
class DoneEvent:
    """The complete answer, as the non-streaming response."""

    response: ChatResponse


ChatEvent = SourcesEvent | TokenEvent | DoneEvent


def word_pieces(text: str) -> list[str]:
    """Split an answer into pieces that concatenate back to it: each word with the space before it."""
    return re.findall(r"\s*\S+", text)


def earlier_turns(request: ChatRequest) -> list[tuple[str, str]]:
    """The conversation before the question, as (role, text), system turns left out."""
    return [(m.role, m.content) for m in request.messages[:-1] if m.role != "system" and m.content.strip()]


class _Clock:
    """Timings of one request."""

    def __init__(self):
        self.started = time.perf_counter()
        self.rewrite_ms = 0.0
        self.generation_started: float | None = None
        self.first_token_ms: float | None = None

    def since(self, t: float) -> float:
        return round((time.perf_counter() - t) * 1000, 2)

    def token(self) -> None:
        if self.first_token_ms is None:
            self.first_token_ms = self.since(self.started)

    def timings(self, retrieval: Retrieval) -> Timings:
        gen = self.since(self.generation_started) if self.generation_started else 0.0
        return Timings(retrieval_ms=round(retrieval.ms, 2), rewrite_ms=self.rewrite_ms, generation_ms=gen,
                       first_token_ms=self.first_token_ms, total_ms=self.since(self.started))


class ChatPipeline:
    """Retriever + answerer. With `llm` set, answers are generated (and follow-ups condensed)."""

    def __init__(self, retriever: Retriever, answerer: ExtractiveAnswerer, default_k: int,
                 llm: LLMAnswerer | None = None, fallback: bool = False, evidence_gate: bool = True,
                 link_hosts: tuple[str, ...] = ()):
        self.retriever = retriever
        self.answerer = answerer
        self.default_k = default_k
        self.llm = llm
        self.fallback = fallback
        self.evidence_gate = evidence_gate
        self.link_hosts = link_hosts  # answers keep links to these hosts only (service.sanitize)
        self.active = 0  # LLM generations in progress (a disconnect must bring this back to 0)
        self.cancelled = 0  # LLM generations stopped because the client went away

    # --- shared steps
    def _retrieve(self, request: ChatRequest, standalone: str | None) -> Retrieval:
        """A condensed question stands alone; otherwise the retriever sees the earlier questions."""
        k = request.top_k or self.default_k
        if standalone:
            return self.retriever.retrieve(standalone, [], k)
        return self.retriever.retrieve(request.question, request.history, k)

    def _extractive(self, request: ChatRequest, retrieval: Retrieval, answer: Answer, clock: _Clock) -> ChatResponse:
        clock.token()  # the whole answer is ready at once (streaming sends it word by word right away)
        observe_stage("answer", time.perf_counter() - (clock.generation_started or clock.started))
        search = retrieval.search_query
        return ChatResponse(
            answer=clean_answer(answer.text, self.link_hosts),
            abstained=answer.abstained,
            sources=to_sources(retrieval, answer),
            citations=answer.citations,
            verified=answer.abstained or bool(answer.citations),
            mode="extractive",
            evidence=answer.evidence,
            standalone_question=search if search != request.question else None,
            timings=clock.timings(retrieval),
            index_generation=retrieval.snapshot.generation if retrieval.snapshot else None,
        )

    def _gate(self, retrieval: Retrieval) -> Answer | None:
        """The built-in answerer's evidence check, run before generation (llm mode).

        Small models answer questions the sources do not cover; when the retrieved evidence is
        too weak (or holds no answer of the kind asked for), the model is not asked at all.
        """
        if not self.evidence_gate:
            return None
        return self.answerer.answer(retrieval)

    def _gated(self, retrieval: Retrieval, sources: list[Source], standalone: str | None,
               check: Answer, clock: _Clock) -> ChatResponse:
        """The abstention of the evidence check, as an llm-mode response."""
        clock.token()
        return ChatResponse(answer=check.text, abstained=True, sources=sources, citations=[], verified=True,
                            mode="llm", evidence=check.evidence, standalone_question=standalone,
                            timings=clock.timings(retrieval))

    def _generated(self, retrieval: Retrieval, sources: list[Source], standalone: str | None,
                   cite: CitationFilter, clock: _Clock, check: Answer | None = None) -> ChatResponse:
        observe_stage("answer", time.perf_counter() - (clock.generation_started or clock.started))
        checked = cite.result()
        return ChatResponse(
            answer=checked.text,
            abstained=checked.abstained,
            sources=sources,
            citations=checked.citations,
            verified=checked.verified,
            mode="llm",
            evidence=check.evidence if check else None,
            standalone_question=standalone,
            timings=clock.timings(retrieval),
            index_generation=retrieval.snapshot.generation if retrieval.snapshot else None,
        )

    def _can_fall_back(self, clock: _Clock) -> bool:
        """LLM_FALLBACK, and nothing of the generated answer has been sent yet."""
        return self.fallback and clock.first_token_ms is None

    # --- one answer
    def run(self, request: ChatRequest) -> ChatResponse:
        clock = _Clock()
        if self.llm is None:
            retrieval = self._retrieve(request, None)
            clock.generation_started = time.perf_counter()
            return self._extractive(request, retrieval, self.answerer.answer(retrieval), clock)
        try:
            standalone = self._condense(request, clock)
            retrieval = self._retrieve(request, standalone)
            clock.generation_started = time.perf_counter()
            check = self._gate(retrieval)
            if check and check.abstained:
                return self._gated(retrieval, to_sources(retrieval), standalone, check, clock)
            prepared = self.llm.prepare(retrieval.question, retrieval.hits)
            cite = SafeAnswer(prepared.given, self.link_hosts)
            for raw in self.llm.stream(prepared):
                if cite.feed(raw):
                    clock.token()
            if cite.flush():
                clock.token()
        except LLMError:
            if not self._can_fall_back(clock):
                raise
            retrieval = self._retrieve(request, None)
            clock.generation_started = time.perf_counter()
            return self._extractive(request, retrieval, self.answerer.answer(retrieval), clock)
        return self._generated(retrieval, to_sources(retrieval), standalone, cite, clock, check)

    def _condense(self, request: ChatRequest, clock: _Clock) -> str | None:
        if not request.history:
            return None  # a first question stands alone
        t = time.perf_counter()
        standalone = self.llm.condense(request.question, earlier_turns(request))
        clock.rewrite_ms = clock.since(t)
        return standalone

    # --- one answer, as events
    async def astream(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        """Sources, then answer pieces, then the full response; LLMError may be raised at any point.

        Cancelling the consumer (a client that went away) cancels the LLM request with it.
        """
        clock = _Clock()
        standalone = None
        if self.llm is not None and request.history:
            t = time.perf_counter()
            try:
                standalone = await self.llm.acondense(request.question, earlier_turns(request))
            except LLMError:
                if not self._can_fall_back(clock):
                    raise
                async for event in self._astream_extractive(request, clock):
                    yield event
                return
            clock.rewrite_ms = clock.since(t)
        if self.llm is None:
            async for event in self._astream_extractive(request, clock):
                yield event
            return
        retrieval = await run_in_threadpool(self._retrieve, request, standalone)
        sources = to_sources(retrieval)
        yield SourcesEvent(sources, standalone)
        clock.generation_started = time.perf_counter()
        check = await run_in_threadpool(self._gate, retrieval)
        if check and check.abstained:
            response = self._gated(retrieval, sources, standalone, check, clock)
            async for event in self._astream_text(response, retrieval, clock):
                yield event
            return
        prepared = self.llm.prepare(retrieval.question, retrieval.hits)
        cite = SafeAnswer(prepared.given, self.link_hosts)
        try:
            async for piece in self._agenerate(prepared, cite, clock):
                yield TokenEvent(piece)
        except LLMError:
            if not self._can_fall_back(clock):
                raise
            async for event in self._astream_extractive(request, clock, retrieval):
                if not isinstance(event, SourcesEvent):
                    yield event
            return
        yield DoneEvent(self._generated(retrieval, sources, standalone, cite, clock, check))

    async def _agenerate(self, prepared: Prepared, cite: CitationFilter, clock: _Clock) -> AsyncIterator[str]:
        """Verified answer pieces from the LLM; counts generations in progress and cancelled ones."""
        self.active += 1
        try:
            async with aclosing(self.llm.astream(prepared)) as raw_pieces:
                async for raw in raw_pieces:
                    if piece := cite.feed(raw):
                        clock.token()
                        yield piece
            if piece := cite.flush():
                clock.token()
                yield piece
        except (asyncio.CancelledError, GeneratorExit):
            self.cancelled += 1
            raise
        finally:
            self.active -= 1

    async def _astream_extractive(self, request: ChatRequest, clock: _Clock,
                                  retrieval: Retrieval | None = None) -> AsyncIterator[ChatEvent]:
        if retrieval is None:
            retrieval = await run_in_threadpool(self._retrieve, request, None)
        clock.generation_started = time.perf_counter()
        answer = await run_in_threadpool(self.answerer.answer, retrieval)
        response = self._extractive(request, retrieval, answer, clock)
        yield SourcesEvent(response.sources, response.standalone_question)
        async for event in self._astream_text(response, retrieval, clock):
            yield event

    async def _astream_text(self, response: ChatResponse, retrieval: Retrieval,
                            clock: _Clock) -> AsyncIterator[ChatEvent]:
        """A finished answer streamed word by word, then the response (with its final timings)."""
        for piece in word_pieces(response.answer):
            clock.token()
            yield TokenEvent(piece)
            await asyncio.sleep(0)  # let a disconnect be noticed between words
        response.timings = clock.timings(retrieval)
        yield DoneEvent(response)

    async def aclose(self) -> None:
        """Close the LLM client's connections (app shutdown)."""
        if self.llm is not None:
            await self.llm.aclose()


def build_pipeline(settings) -> ChatPipeline:
    """Load the model, open the store and build the keyword index: the heavy objects, once."""
    client = ix.chroma_client(settings)
    # Refuse an index built with another model before spending time loading this one.
    ix.check_model(ix.read_state(client, settings), settings, ix.store_label(settings))
    embedder = ix.load_embedder(settings)
    retriever = Retriever(settings, embedder, client)
    answerer = ExtractiveAnswerer(retriever, settings.abstain_threshold)
    llm = None
    if settings.answer_mode == "llm":
        from service.generate import build_llm_answerer

        llm = build_llm_answerer(settings)
    return ChatPipeline(retriever, answerer, settings.top_k, llm=llm, fallback=settings.llm_fallback,
                        evidence_gate=settings.llm_evidence_gate, link_hosts=tuple(settings.answer_link_hosts))
