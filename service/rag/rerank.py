"""Reranking: the stage that chooses, from the retriever's candidates, the passages to answer from.

The retriever hands over every candidate sorted by fused score; a `Reranker` returns the `k`
passages the answer stage sees, best first. Their order fixes the citation numbers `[n]`.
The default, `TopK`, keeps the k best by fused score. A cross-encoder goes here: score each
(question, passage) pair, sort by that score, keep k; nothing before or after this stage changes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from service.rag.retrieve import Retrieval


class Reranker(Protocol):
    """Chooses and orders the passages to answer from."""

    def rerank(self, retrieval: Retrieval, k: int) -> Retrieval:
        """`retrieval` with its hits cut to the k passages to answer from, best first."""
        ...


class TopK:
    """The k best candidates by fused score (the retriever sorts them so)."""

    def rerank(self, retrieval: Retrieval, k: int) -> Retrieval:
        return replace(retrieval, hits=retrieval.hits[:k])
