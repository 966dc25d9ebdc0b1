"""Retrieval paths that matter at scale, on the real sample index (real model, real Chroma)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ingest import store as ix
from service.rag import retrieve
from service.rag.retrieve import Retriever
from tests.fixtures.core import SAMPLE_CHUNKS


def test_keyword_index_is_loaded_in_pages(ingested, embedder, monkeypatch):
    """A single get of 100k records exceeds SQLite's variable limit: the snapshot reads in pages."""
    client = ix.chroma_client(ingested)
    whole = Retriever(ingested, embedder, client)
    monkeypatch.setattr(retrieve, "LOAD_PAGE", 7)  # 32 chunks: five pages, the last one short
    paged = Retriever(ingested, embedder, client)
    assert len(paged.docs) == len(whole.docs) == SAMPLE_CHUNKS
    assert paged.docs == whole.docs
    q = "Where did Xuan Jin work before joining Alibaba?"
    assert [h.id for h in paged.retrieve(q, [], 5).hits] == [h.id for h in whole.retrieve(q, [], 5).hits]


def test_concurrent_retrievals_match_serial_ones(ingested, embedder):
    """Batched query encodes and the overlapped searches give each request its own results."""
    r = Retriever(ingested, embedder, ix.chroma_client(ingested))
    questions = [
        "Where did Xuan Jin work before joining Alibaba?",
        "Which cities have Alibaba Cloud offices in Europe?",
        "When was Alibaba Cloud started?",
        "What market share does Alibaba Cloud have in China?",
    ] * 4
    serial = [[(h.id, h.score) for h in r.retrieve(q, [], 5).hits] for q in questions]
    with ThreadPoolExecutor(16) as pool:
        parallel = list(pool.map(lambda q: [(h.id, h.score) for h in r.retrieve(q, [], 5).hits], questions))
    assert [[i for i, _ in hits] for hits in parallel] == [[i for i, _ in hits] for hits in serial]
    for got, want in zip(parallel, serial):
        assert all(abs(a[1] - b[1]) < 1e-4 for a, b in zip(got, want))
