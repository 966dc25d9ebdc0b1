"""One definition of the index, shared by ingest (writes) and service (reads).

Collection names and their metadata, metadata keys, the Chroma client factory and paging live
here only (the embedding model is in ingest/embed.py):
two sources of truth for any of them is the classic bug of this kind of project.
"""

from __future__ import annotations

import itertools
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import chromadb
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.errors import ChromaError

from ingest.chroma_deadline import bounded
from ingest.settings import IndexSettings

# Metadata keys stored with every chunk.
K_TRANSCRIPT = "transcript"  # transcript id (path relative to its folder, without suffix)
K_TITLE = "title"
K_SOURCE = "source"  # absolute path of the source file
K_QUESTION = "question"
K_SPEAKER = "speaker"
K_ROLE = "role"  # the speaker's role, when the intro gives it
K_TURN = "turn"
K_PIECE = "piece"
K_START = "start"  # character span of the piece in Transcript.text (the file itself for .txt)
K_END = "end"
K_HASH = "content_hash"
K_FILE = "file_fingerprint"  # hash of the whole source file + chunking settings + transcript id
K_DROPPED = "dropped_lines"  # boilerplate lines the parser dropped from the file
K_NCHUNKS = "transcript_chunks"  # how many chunks the whole transcript has
K_TIMESTAMP = "timestamp"  # "00:01:02" for subtitle formats, "" otherwise
K_NSENT = "sentences"  # number of sentence records of a chunk
K_KIND = "kind"  # the transcript's kind: "interview" (questions and answers) or "conversation"
K_LABEL = "speaker_label"  # the speaker label as written ("Mr. Gabriel Ste-Marie"), if any
K_ASKED_BY = "asked_by"  # who said `question` (the interviewer, or the previous speaker)
K_PROMPT_TURN = "prompt_turn"  # conversations: the turn this one follows (0: none)
K_INGESTED = "ingested_at"  # Unix time at which this version of the file was ingested
K_CHUNK = "chunk_id"  # on sentence records: the chunk they belong to
K_SENT = "sent"  # on sentence records: index within the chunk

CHUNK_SUFFIX = "chunks"
SENTENCE_SUFFIX = "sentences"


def chunk_id(transcript: str, turn: int, piece: int) -> str:
    """Stable id of one answer piece: transcript + turn + piece."""
    return f"{transcript}#t{turn:03d}p{piece:02d}"


def transcript_of(chunk: str) -> str:
    """The transcript id inside a chunk id (the inverse of `chunk_id`)."""
    return chunk[: chunk.rindex("#t")]


def sentence_id(chunk: str, index: int) -> str:
    return f"{chunk}s{index:02d}"


def chunk_of(sentence: str) -> str:
    """The chunk id inside a sentence id (the inverse of `sentence_id`)."""
    return sentence[: sentence.rindex("s")]


def chroma_client(settings: IndexSettings) -> ClientAPI:
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


def collection_name(settings: IndexSettings, suffix: str, generation: int = 1) -> str:
    if suffix == META_SUFFIX:
        return f"{settings.collection}_{META_SUFFIX}"
    return f"{settings.collection}_g{generation}_{suffix}"


def _meta(client: ClientAPI, settings: IndexSettings) -> Collection:
    return client.get_or_create_collection(collection_name(settings, META_SUFFIX))


def next_version(state: IndexState) -> int:
    """A version no other writer picks: two processes syncing at once against a Chroma server
    must not both write `version + 1` (a worker that saw the first would miss the second)."""
    return max(state.version + 1, time.time_ns() // 1000 + random.randrange(1_000_000))


def read_state(client: ClientAPI, settings: IndexSettings) -> IndexState:
    got = _meta(client, settings).get(ids=[STATE_ID], include=["metadatas"])
    if not got["ids"]:
        return IndexState()
    m = got["metadatas"][0]
    return IndexState(int(m["generation"]), int(m["version"]), str(m.get("embedding_model", "")))


def write_state(client: ClientAPI, settings: IndexSettings, state: IndexState) -> None:
    _meta(client, settings).upsert(
        ids=[STATE_ID],
        documents=["index state"],
        embeddings=[[0.0]],
        metadatas=[{"generation": state.generation, "version": state.version,
                    "embedding_model": state.embedding_model}],
    )


class ModelMismatch(RuntimeError):
    pass


def check_model(state: IndexState, settings: IndexSettings, where: str) -> None:
    """Refuse to mix embeddings of two models in one index."""
    if state.embedding_model and state.embedding_model != settings.embedding_model:
        raise ModelMismatch(
            f"the index in {where} was built with the embedding model '{state.embedding_model}', "
            f"but EMBEDDING_MODEL is '{settings.embedding_model}'. Either set "
            f"EMBEDDING_MODEL={state.embedding_model}, or rebuild the index with the new model: "
            f"rag-ingest --rebuild"
        )


def collection_metadata(settings: IndexSettings) -> dict:
    """What every data collection is created with: cosine space, and the model its vectors come from."""
    return {"hnsw:space": "cosine", "embedding_model": settings.embedding_model}


def open_collection(
    client: ClientAPI, settings: IndexSettings, suffix: str, generation: int | None = None
) -> Collection:
    """Get or create one of the index's collections (cosine space) in the live generation."""
    if generation is None:
        generation = read_state(client, settings).generation
    metadata = collection_metadata(settings)
    if suffix == SENTENCE_SUFFIX:
        # Sentences are read by id, never searched by vector: their HNSW graph is built as cheaply
        # as Chroma allows (measured: 2.4x less CPU for 20k inserts), beside the model at ingest.
        metadata |= {"hnsw:construction_ef": 10, "hnsw:M": 4}
    return client.get_or_create_collection(collection_name(settings, suffix, generation), metadata=metadata)


def drop_generation(client: ClientAPI, settings: IndexSettings, generation: int) -> None:
    for suffix in (CHUNK_SUFFIX, SENTENCE_SUFFIX):
        name = collection_name(settings, suffix, generation)
        if name in {c.name for c in client.list_collections()}:
            client.delete_collection(name)


def store_label(settings: IndexSettings) -> str:
    if settings.client_server:
        return f"chroma server {settings.chroma_host}:{settings.chroma_port}"
    return f"embedded store {settings.chroma_path}"


PAGE = 5000  # records per read: one get of 100k records fails ("too many SQL variables", embedded store)


def read_pages(collection: Collection, include: list[str], page: int = PAGE) -> Iterator[dict]:
    """Every record of a collection, `page` at a time (each a `get` result)."""
    for offset in itertools.count(0, page):
        got = collection.get(include=include, limit=page, offset=offset)
        yield got
        if len(got["ids"]) < page:
            return


def partial_transcripts(metadatas: Iterable[dict]) -> set[str]:
    """The transcripts among these chunk records that are not whole: a sync cut off (kill -9,
    power loss) left some of their pieces missing or from another version of the file.

    Every chunk records its file's fingerprint and how many chunks its transcript has, and a sync
    brings all of them in line before it ends: a whole transcript has that many chunks, all of one
    fingerprint. Records without these keys (older indexes) count as whole.
    """
    count: Counter[str] = Counter()
    seen: dict[str, set[tuple]] = defaultdict(set)
    for meta in metadatas:
        tid = meta.get(K_TRANSCRIPT, "")
        count[tid] += 1
        seen[tid].add((meta.get(K_FILE), meta.get(K_NCHUNKS)))
    partial = set()
    for tid, versions in seen.items():
        (_, expected), *others = versions
        if others or (expected is not None and expected != count[tid]):
            partial.add(tid)
    return partial


class WriteFailed(RuntimeError):
    """A write to the index failed (disk full, a read-only or broken store). Reads that fail are
    not this: they change nothing, and the next ingest may try again."""


@contextmanager
def writing() -> Iterator[None]:
    """Marks the writes of an ingest: a Chroma or OS error inside is raised as WriteFailed."""
    try:
        yield
    except (ChromaError, OSError) as exc:
        raise WriteFailed(f"{type(exc).__name__}: {exc}") from exc
