"""The chat pipeline: retrieve, answer, shape the response. HTTP-free so tests and eval call it."""

from __future__ import annotations

import time

from ingest import index as ix
from service.answer import Answer, ExtractiveAnswerer
from service.retrieve import Retrieval, Retriever
from service.schemas import ChatRequest, ChatResponse, Source, Timings


def to_sources(retrieval: Retrieval, answer: Answer) -> list[Source]:
    out = []
    for n, hit in enumerate(retrieval.hits, 1):
        m = hit.meta
        out.append(
            Source(
                n=n, id=hit.id, transcript=m.get(ix.K_TRANSCRIPT, ""), title=m.get(ix.K_TITLE, ""),
                question=m.get(ix.K_QUESTION, ""), speaker=m.get(ix.K_SPEAKER, ""), text=hit.text,
                score=hit.score, turn=m.get(ix.K_TURN, 0), start=m.get(ix.K_START, 0),
                end=m.get(ix.K_END, 0), timestamp=m.get(ix.K_TIMESTAMP, ""),
                quotes=[q.text for q in answer.quotes if q.n == n],
            )
        )
    return out


class ChatPipeline:
    def __init__(self, retriever: Retriever, answerer: ExtractiveAnswerer, default_k: int):
        self.retriever = retriever
        self.answerer = answerer
        self.default_k = default_k

    def run(self, request: ChatRequest) -> ChatResponse:
        started = time.perf_counter()
        retrieval = self.retriever.retrieve(request.question, request.history, request.top_k or self.default_k)
        t_answer = time.perf_counter()
        answer = self.answerer.answer(retrieval)
        done = time.perf_counter()
        return ChatResponse(
            answer=answer.text,
            abstained=answer.abstained,
            sources=to_sources(retrieval, answer),
            citations=answer.citations,
            verified=answer.abstained or bool(answer.citations),
            evidence=answer.evidence,
            standalone_question=retrieval.search_query if retrieval.search_query != request.question else None,
            timings=Timings(
                retrieval_ms=round(retrieval.ms, 2),
                generation_ms=round((done - t_answer) * 1000, 2),
                total_ms=round((done - started) * 1000, 2),
            ),
        )


def build_pipeline(settings) -> ChatPipeline:
    """Load the model, open the store and build the keyword index: the heavy objects, once."""
    embedder = ix.load_embedder(settings)
    client = ix.chroma_client(settings)
    retriever = Retriever(settings, embedder, client)
    answerer = ExtractiveAnswerer(retriever, settings.abstain_threshold)
    return ChatPipeline(retriever, answerer, settings.top_k)
