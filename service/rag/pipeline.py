"""The chat pipeline: the one decision tree from a request to its answer. HTTP-free, so tests and
eval call it.

`astream` is the pipeline: it yields the answer as events (sources, then text pieces, then the
full response) for Server-Sent Events and the OpenAI-compatible facade. `answer` drains it for the
JSON routes; `run` does the same for synchronous callers (rag-eval). A question passes each stage
once, in this order:

    [the request's filters -> scope] -> [llm mode: condense a follow-up] -> retrieve (in scope) -> rerank ->
        extractive mode: evidence -> extractive (quote, or abstain)
        llm mode:        evidence -> extractive (the evidence check) -> llm -> filters
    -> response

An LLM failure before any of the generated answer was sent falls back to quoting (LLM_FALLBACK).
The routes resolve a request's `filters` (`scope`) before they start an answer, so that a filter
naming nothing is a JSON 422 and never an event of a stream that has begun.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, replace

from anyio import to_thread

from ingest import store as ix
from ingest.embed import load_embedder
from service.rag import followup, starters, topics
from service.rag.abstain import NO_OTHER_TEXT, NOTHING_NEW_TEXT
from service.rag.chat_types import (
    ChatFilters,
    ChatRequest,
    ChatResponse,
    Message,
    Source,
    TopicRequest,
)
from service.rag.errors import LLMError
from service.rag.evidence import EvidenceBuilder
from service.rag.extractive import Answer, ExtractiveAnswerer, Quote
from service.rag.filters import SafeAnswer
from service.rag.intent import asks_which_transcript, asks_who_talked_about, is_digest
from service.rag.library_types import TopicResult
from service.rag.links import clean_answer
from service.rag.llm import LLMAnswerer, Prepared
from service.rag.params import Params
from service.rag.per_snapshot import PerSnapshot
from service.rag.rerank import Reranker, TopK
from service.rag.response import Clock, build_response, to_sources
from service.rag.retrieve import Hit, Retrieval, Retriever, Snapshot
from service.rag.scope import Scope, resolve_scope
from service.rag.stages import observe_stage
from service.rag.topics import POOL, Said, TopicMap, map_topic, speakers_answer, transcripts_answer
from service.settings import ServiceSettings


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


def folder_answer(question: str):
    """How a question about the folder as a whole is answered (service/rag/topics.py): the
    transcripts that talk about a topic ("Which hearing discussed …?"), or the speakers ("Who
    talked about …?"); None for any other question."""
    if asks_which_transcript(question):
        return transcripts_answer
    if asks_who_talked_about(question):
        return speakers_answer
    return None


class ChatPipeline:
    """Retrieve, rerank, then quote (extractive) or generate (`llm` set; follow-ups condensed)."""

    def __init__(self, retriever: Retriever, evidence: EvidenceBuilder, answerer: ExtractiveAnswerer,
                 default_k: int, llm: LLMAnswerer | None = None, fallback: bool = False,
                 evidence_gate: bool = True, link_hosts: tuple[str, ...] = (), reranker: Reranker | None = None):
        self.retriever = retriever
        self.reranker = reranker or TopK()
        self.evidence = evidence
        self.answerer = answerer
        self.default_k = default_k
        self.llm = llm
        self.fallback = fallback
        self.evidence_gate = evidence_gate
        self.link_hosts = link_hosts  # answers keep links to these hosts only (service/rag/links.py)
        self.active = 0  # LLM generations in progress (a disconnect must bring this back to 0)
        self.cancelled = 0  # LLM generations stopped because the client went away
        self._loop: asyncio.AbstractEventLoop | None = None  # `run`'s event loop (see there)
        self._loop_lock = threading.Lock()
        self._starters = PerSnapshot(lambda snapshot: starters.build(snapshot, self.answers))

    # --- the index and the request's part of it
    def live_snapshot(self) -> Snapshot:
        """The live index generation, reloaded first if another worker or process re-ingested
        (checked at most every INDEX_CHECK_SECONDS; it may read Chroma: call it off the event loop)."""
        self.retriever.maybe_refresh(self.retriever.settings.index_check_seconds)
        return self.retriever.snap

    def scope(self, request: ChatRequest) -> Scope | None:
        """The part of the index the request's `filters` allow (None: all of it); FilterError (422)
        naming the values that name nothing (service/rag/scope.py)."""
        filters = request.filters
        if filters is None or not (filters.transcripts or filters.speakers):
            return None
        return resolve_scope(filters, self.live_snapshot())

    # --- the stages
    def _retrieve(self, request: ChatRequest, standalone: str | None, scope: Scope | None) -> Retrieval:
        """The passages to answer from, within the scope. A question condensed by the LLM stands
        alone; otherwise a follow-up is resolved against the conversation (service/rag/followup.py)."""
        if standalone:
            candidates = self.retriever.retrieve(standalone, [], scope=scope)
        elif request.history:
            follow = followup.resolve(earlier_turns(request), request.question, self.live_snapshot(), scope)
            # a follow-up that points at turns ("what did she say next?") is answered by turns
            candidates = self.retriever.retrieve(follow.question, [], scope=follow.scope,
                                                 single_turns=bool(follow.next_turn or follow.near))
            candidates = followup.arrange(candidates, follow)
        else:
            candidates = self.retriever.retrieve(request.question, [], scope=scope)
        if request.exclude:  # another answer than one given: not from its passages
            gone = set(request.exclude)
            candidates = replace(candidates, hits=[h for h in candidates.hits if h.id not in gone])
        return self.reranker.rerank(candidates, request.top_k or self.default_k)

    def use(self, params: Params) -> None:
        """Answer with these parameters from now on (rag-tune tries candidates on one index)."""
        windows = (params.window_target, params.window_limit) != (self.answerer.params.window_target,
                                                                  self.answerer.params.window_limit)
        self.retriever.params = self.answerer.params = params
        if windows:
            self.retriever.refresh()

    def evidence_features(self, request: ChatRequest) -> dict[str, float] | None:
        """What the abstention model weighs for this request (rag-tune fits it on these)."""
        scope = self.scope(request)
        return self.answerer.evidence_features(self.evidence.build(self._retrieve(request, None, scope)))

    def answers(self, question: str) -> bool:
        """The built-in answerer answers `question`, asked alone over the whole folder."""
        request = ChatRequest(messages=[Message(role="user", content=question)])
        return not self._answer(self._retrieve(request, None, None)).abstained

    def starters(self, n: int) -> list[str]:
        """Up to `n` first questions about the folder's topics, each answered (service/rag/starters.py)."""
        return self._starters.get(self.live_snapshot())[:n]

    def _answer(self, retrieval: Retrieval) -> Answer:
        """The built-in answerer on the evidence of the passages (quotes, or an abstention)."""
        return self.answerer.answer(self.evidence.build(retrieval))

    def _quote(self, retrieval: Retrieval, transcripts: bool = True) -> tuple[Retrieval, Answer]:
        """The built-in answer to give (`_answer`), with its sources. A question about the folder
        as a whole (`folder_answer`: which transcripts, or which speakers, talk about something)
        that the passages answer is answered with those transcripts or speakers: their quoted
        turns are the sources (not when the sources were sent already: `transcripts` False)."""
        answer = self._answer(retrieval)
        listing = folder_answer(retrieval.question)
        if not transcripts or answer.abstained or retrieval.pinned or listing is None:
            return retrieval, answer
        topic_map = self._topic_map(retrieval.question, retrieval.scope)
        hits, text, said = listing(topic_map)
        if not hits:
            return retrieval, answer
        quotes = [Quote(n, q.text, q.start, q.end, q.similarity, speaker=q.hit.meta.get(ix.K_SPEAKER, ""))
                  for n, q in enumerate(said, 1)]
        return replace(retrieval, hits=hits), Answer(text, False, quotes, answer.evidence)

    def _another(self, retrieval: Retrieval, answer: Answer) -> bool:
        """The passages after the ones `answer` quotes hold another answer (what Regenerate would
        give, asked with their ids in `exclude`)."""
        quoted = {retrieval.hits[n - 1].id for n in answer.citations if 0 < n <= len(retrieval.hits)}
        rest = [h for h in retrieval.hits if h.id not in quoted]
        return bool(rest) and not self._answer(replace(retrieval, hits=rest)).abstained

    def _topic_map(self, topic: str, scope: Scope | None) -> TopicMap:
        turns = self.retriever.retrieve(topic, k=POOL, scope=scope, single_turns=True)
        return map_topic(turns, self.answerer.params.topic_gap, self._best_sentences)

    def _best_sentences(self, retrieval: Retrieval, hits: list[Hit]) -> dict[str, Said]:
        """Each hit's sentence that best answers the retrieval's question, by the fitted sentence
        model (its own score: the hit's rank does not count)."""
        if not hits:
            return {}
        evidence = self.evidence.build(replace(retrieval, hits=hits), passages=len(hits))
        best: dict[int, Quote] = {}
        for q in self.answerer.score_sentences(evidence):
            if q.n not in best or q.base > best[q.n].base:
                best[q.n] = q
        return {hits[n - 1].id: Said(q.text, q.start, q.end, hits[n - 1], q.base) for n, q in best.items()}

    def topics(self, request: TopicRequest) -> TopicResult:
        """Which transcripts and speakers talk about a topic, and how much (service/rag/topics.py);
        nothing when the passages do not answer it (the built-in answerer's abstention model).
        FilterError (422) for filters, or a `track` speaker, that name nothing in the index."""
        snap = self.live_snapshot()
        scope = resolve_scope(request.filters, snap) if request.filters else None
        track = None
        if request.track:
            track = resolve_scope(ChatFilters(speakers=[request.track]), snap).speakers
            track = next(iter(track)) if track else None
        passages = self.reranker.rerank(self.retriever.retrieve(request.topic, [], scope=scope), self.default_k)
        answer = self.answerer.answer(self.evidence.build(passages))
        topic_map = None if answer.abstained else self._topic_map(request.topic, scope)
        return topics.result(request.topic, topic_map, passages.snapshot.generation, track, self._best_sentences)

    async def _condense(self, request: ChatRequest, clock: Clock) -> str | None:
        """A follow-up rewritten by the LLM to stand alone (None for a first question)."""
        if not request.history:
            return None
        t = time.perf_counter()
        standalone = await self.llm.acondense(request.question, earlier_turns(request))
        clock.rewrite_ms = clock.since(t)
        return standalone

    # --- one answer, as events: the pipeline
    async def astream(self, request: ChatRequest, scope: Scope | None = None) -> AsyncIterator[ChatEvent]:
        """Sources, then answer pieces, then the full response; LLMError may be raised at any point.

        `scope`: the request's filters as `self.scope(request)` resolved them (the routes do, before
        the stream starts); without it they are resolved here. Cancelling the consumer (a client
        that went away) cancels the LLM request with it.
        """
        if scope is None and request.filters is not None:
            scope = await to_thread.run_sync(self.scope, request)
        clock = Clock()
        # which transcripts or speakers talk about something: answered from the folder's structure
        generate = self.llm is not None and folder_answer(request.question) is None
        standalone = None
        if generate:
            try:
                standalone = await self._condense(request, clock)
            except LLMError:
                if not self.fallback:
                    raise
                generate = False  # quote instead
        retrieval = await to_thread.run_sync(self._retrieve, request, standalone, scope)
        answer = self._generated(request, retrieval, standalone, clock) if generate else \
            self._quoted(request, retrieval, clock, sources_sent=False)
        async with aclosing(answer) as answer_events:
            async for event in answer_events:
                yield event

    async def _generated(self, request: ChatRequest, retrieval: Retrieval, standalone: str | None,
                         clock: Clock) -> AsyncIterator[ChatEvent]:
        """The LLM's answer as events, after the evidence check; quoted instead if it fails early."""
        yield SourcesEvent(to_sources(retrieval), standalone)
        clock.generating()
        # The evidence check: small models answer questions the sources do not cover; when the
        # evidence is too weak (or holds no answer of the kind asked for), the model is not asked.
        check = await to_thread.run_sync(self._answer, retrieval) if self.evidence_gate else None
        if check is not None and check.abstained:
            clock.token()
            response = build_response(retrieval, check, "llm", standalone, check.evidence, clock.timings(retrieval))
            async for event in self._words(response, retrieval, clock):
                yield event
            return
        # a digest: the model writes from the points the built-in answerer laid out (by transcript, then speaker)
        outline = check.text if check is not None and is_digest(retrieval.question) else ""
        prepared = self.llm.prepare(retrieval.question, retrieval.hits, outline)
        safe = SafeAnswer(prepared.given, self.link_hosts)
        try:
            async with aclosing(self._generate(prepared, safe, clock)) as pieces:
                async for piece in pieces:
                    yield TokenEvent(piece)
        except LLMError:
            if not (self.fallback and clock.first_token_ms is None):  # nothing of it sent yet?
                raise
            async for event in self._quoted(request, retrieval, clock, sources_sent=True):
                yield event
            return
        observe_stage("answer", clock.generation_seconds())
        evidence = check.evidence if check else None
        yield DoneEvent(build_response(retrieval, safe.result(), "llm", standalone, evidence, clock.timings(retrieval)))

    async def _quoted(self, request: ChatRequest, retrieval: Retrieval, clock: Clock,
                      sources_sent: bool) -> AsyncIterator[ChatEvent]:
        """The built-in answerer's answer as events (its sources carry the quoted sentences)."""
        clock.generating()
        retrieval, answer = await to_thread.run_sync(self._quote, retrieval, not sources_sent)
        earlier = [text for role, text in earlier_turns(request) if role == "assistant"]
        if not answer.abstained and followup.repeats([q.text for q in answer.quotes], earlier):
            answer = Answer(NOTHING_NEW_TEXT, True, evidence=answer.evidence)
        elif answer.abstained and request.exclude:
            answer = Answer(NO_OTHER_TEXT, True, evidence=answer.evidence)
        alternatives = None
        if not answer.abstained and folder_answer(retrieval.question) is None and not retrieval.pinned:
            alternatives = await to_thread.run_sync(self._another, retrieval, answer)
        clock.token()  # the whole answer is ready at once (it is sent word by word right away)
        observe_stage("answer", clock.generation_seconds())
        answer = replace(answer, text=clean_answer(answer.text, self.link_hosts))
        search = retrieval.search_query
        standalone = search if search != request.question else None
        response = build_response(retrieval, answer, "extractive", standalone, answer.evidence,
                                  clock.timings(retrieval))
        response.alternatives = alternatives
        if not sources_sent:
            yield SourcesEvent(response.sources, response.standalone_question)
        async for event in self._words(response, retrieval, clock):
            yield event

    async def _generate(self, prepared: Prepared, safe: SafeAnswer, clock: Clock) -> AsyncIterator[str]:
        """Verified, cleaned answer pieces from the LLM; counts generations in progress and cancelled ones."""
        self.active += 1
        try:
            async with aclosing(self.llm.astream(prepared)) as raw_pieces:
                async for raw in raw_pieces:
                    if piece := safe.feed(raw):
                        clock.token()
                        yield piece
            if piece := safe.flush():
                clock.token()
                yield piece
        except (asyncio.CancelledError, GeneratorExit):
            self.cancelled += 1
            raise
        finally:
            self.active -= 1

    async def _words(self, response: ChatResponse, retrieval: Retrieval, clock: Clock) -> AsyncIterator[ChatEvent]:
        """A finished answer streamed word by word, then the response (with its final timings)."""
        for piece in word_pieces(response.answer):
            clock.token()
            yield TokenEvent(piece)
            await asyncio.sleep(0)  # let a disconnect be noticed between words
        response.timings = clock.timings(retrieval)
        yield DoneEvent(response)

    # --- one answer, whole
    async def answer(self, request: ChatRequest, scope: Scope | None = None) -> ChatResponse:
        """The whole answer: `astream` drained (closing it, and the LLM request, if cancelled)."""
        async with aclosing(self.astream(request, scope)) as events:
            done = [event async for event in events if isinstance(event, DoneEvent)]
        return done[-1].response

    def run(self, request: ChatRequest) -> ChatResponse:
        """`answer` for synchronous callers (rag-eval, scripts); not for use inside an event loop.

        It runs on this pipeline's own event loop, in a thread of its own, started on first use:
        one loop for every call keeps the LLM client's pooled async connections on the loop that
        opened them (`asyncio.run` per call would strand them on a closed loop).
        """
        with self._loop_lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(target=self._loop.run_forever, name="pipeline-run", daemon=True).start()
        return asyncio.run_coroutine_threadsafe(self.answer(request), self._loop).result()

    async def aclose(self) -> None:
        """Close the LLM client's connections and `run`'s event loop (app shutdown)."""
        if self.llm is not None:
            await self.llm.aclose()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)


def build_pipeline(settings: ServiceSettings) -> ChatPipeline:
    """Load the model, open the store and build the keyword index: the heavy objects, once."""
    client = ix.chroma_client(settings)
    # Refuse an index built with another model before spending time loading this one.
    ix.check_model(ix.read_state(client, settings), settings, ix.store_label(settings))
    embedder = load_embedder(settings)
    retriever = Retriever(settings, embedder, client)
    llm = None
    if settings.answer_mode == "llm":
        from service.rag.llm import build_llm_answerer

        llm = build_llm_answerer(settings)
    return ChatPipeline(retriever, EvidenceBuilder(embedder), ExtractiveAnswerer(retriever.params),
                        settings.top_k, llm=llm, fallback=settings.llm_fallback,
                        evidence_gate=settings.llm_evidence_gate, link_hosts=tuple(settings.answer_link_hosts))
