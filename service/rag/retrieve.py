"""Hybrid retrieval: the candidate passages for a question, best first.

Each chunk gets one relevance score, computed exactly over the whole index generation:

    z(BM25) * KEYWORD_WEIGHT + z(cosine)                       the passage itself
    + PHRASE_WEIGHT * z(BM25 over adjacent word pairs)         its phrases ("wage subsidy")
    + SPEAKER_BOOST σ   for chunks spoken by a speaker the question names ("What did Ste-Marie say…");
                        a chunk shorter than SHORT_CHARS gets its share (a bare "Yes." says nothing
                        about what was asked, and must not outrank the speaker's real answers)
    + TRANSCRIPT_PRIOR σ * z(the transcript's best chunk scores)     the sitting the question is about
    + TRANSCRIPT_KEYWORDS σ * z(BM25 of the question over whole transcripts, titles included)

z() standardises a score over all chunks, σ is the spread of the fused score. BM25 reads each
chunk with its speaker's name and the end of the turn it answers; the question is searched
without its phrasing words ("summarize", "what did … say"). The phrase index is a second BM25
over the same text read as pairs of adjacent content words: a passage that says "long-term care"
beats one that says "long" and "care" apart. At most one piece of a turn is
returned. Measured on the 36 committee hearings (bench/qmsum_lab): this beats reciprocal-rank
fusion and either retriever alone. The chunk vectors of a generation are read from Chroma once,
into the `Snapshot`; a question costs one encode and a few matrix products, at any corpus size
that fits in memory (4 bytes x 384 per chunk).

Every candidate comes back, sorted by that score: choosing the passages to answer from is the next
stage's work (service/rag/rerank.py). A `Snapshot` is one index generation as read from Chroma,
with the keyword indexes and vectors over it.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import bm25s
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection

from ingest import store as ix
from ingest.embed import Embedder
from ingest.settings import Settings
from ingest.speakers import SpeakerNames, bare
from service.ops.metrics import Laps
from service.rag.anaphora import is_follow_up
from service.rag.intent import who_is
from service.rag.text import Tokenizer, pairs, query_text, words

log = logging.getLogger("service")
LOAD_PAGE = 5000  # chunk records read from Chroma per call when building the keyword index

SPEAKER_BOOST = 3.0  # σ added to the chunks of a speaker the question names
SHORT_CHARS = 100  # a named speaker's chunk shorter than this gets len/SHORT_CHARS of the boost
TRANSCRIPT_PRIOR = 0.5  # σ per z of the transcript's mean top-PRIOR_TOP chunk score
PRIOR_TOP = 20
TRANSCRIPT_KEYWORDS = 0.6  # σ per z of the question's BM25 over whole transcripts
PHRASE_WEIGHT = 0.2  # per z of the BM25 over adjacent word pairs (chosen on qmsum-train)
CONTEXT_CHARS = 200  # how much of the turn a chunk answers goes into its keyword text
BM25_K1, BM25_B = 1.2, 0.5  # turns vary from "Thank you." to pages: length counts only half


@dataclass
class Hit:
    id: str
    text: str
    meta: dict
    score: float = 0.0  # fused relevance, in σ of the fused score (see the module docstring)
    dense: float = 0.0  # cosine similarity of the chunk to the question


def zscore(x: np.ndarray) -> np.ndarray:
    spread = float(x.std())
    return (x - float(x.mean())) / (spread or 1.0)


def top_mean(scores: np.ndarray, groups: np.ndarray, n: int, top: int) -> np.ndarray:
    """The mean of each group's `top` best scores (groups 0..n-1, none empty), from one sort: a
    pass over the rows per group cost rows x groups (1.4 s a question at 20,000 transcripts)."""
    order = np.lexsort((scores, groups))  # by group, then by score
    g = groups[order]
    ends = np.searchsorted(g, np.arange(n), side="right")
    best = ends[g] - np.arange(len(g)) <= top  # the last `top` rows of each group
    return np.bincount(g[best], weights=scores[order][best], minlength=n) / np.bincount(g[best], minlength=n)


@dataclass
class Snapshot:
    """One consistent view of one index generation: its stores, vectors and keyword indexes.

    A request works on the snapshot it started with, so an answer comes wholly from the old or
    wholly from the new generation while a rebuild switches.
    """

    generation: int
    version: int
    chunks: Collection
    sentences: Collection
    docs: dict[str, tuple[str, dict]]
    ids: list[str]  # row order of every array below
    bm25: bm25s.BM25 | None
    phrases: bm25s.BM25 | None  # the same text as pairs of adjacent tokens
    idf: dict[str, float]  # token -> inverse document frequency over this generation's chunks
    vectors: np.ndarray  # (chunks, dim) unit vectors, one row per id
    speakers: SpeakerNames
    speaker_rows: dict[str, np.ndarray]  # speaker name -> rows of their chunks
    transcript_ids: list[str]  # transcript code -> id
    transcript_of: np.ndarray  # row -> transcript code
    turn_of: np.ndarray  # row -> a code unique to (transcript, turn)
    boost: np.ndarray  # row -> the share of SPEAKER_BOOST it gets when its speaker is named
    transcript_bm25: bm25s.BM25 | None  # one document per transcript: title, speakers, all text
    # chunk id -> its sentence records [(text, metadata)], filled by the evidence stage on first
    # use (service/rag/evidence.py); it lives as long as this snapshot, which a re-ingest replaces
    sentence_records: dict[str, list[tuple[str, dict]]] = field(default_factory=dict)
    prefixes: set[str] | None = None  # word beginnings of the index, made by the evidence stage on first use
    _interviewees: frozenset[str] | None = field(default=None, repr=False)

    @property
    def interviewees(self) -> frozenset[str]:
        """The speakers who answer an interviewer's questions (kind "interview"), once computed."""
        if self._interviewees is None:
            self._interviewees = frozenset(
                m.get(ix.K_SPEAKER, "") for _, m in self.docs.values()
                if m.get(ix.K_KIND) == "interview" and m.get(ix.K_SPEAKER)
            )
        return self._interviewees

    @property
    def transcripts(self) -> int:
        return len(self.transcript_ids)

    def rows_in(self, scope) -> np.ndarray | None:
        """A mask of the rows a scope (service/rag/scope.py) allows; None: every row."""
        if scope is None:
            return None
        mask = np.ones(len(self.ids), bool)
        if scope.transcripts is not None:
            codes = [i for i, t in enumerate(self.transcript_ids) if t in scope.transcripts]
            mask &= np.isin(self.transcript_of, codes)
        if scope.speakers is not None:
            allowed = np.zeros(len(self.ids), bool)
            for name in scope.speakers:
                allowed[self.speaker_rows.get(name, [])] = True
            mask &= allowed
        return mask


_THE_INTERVIEWEE = re.compile(r"\bthe (?:interviewee|guest|person (?:being )?interviewed)\b", re.IGNORECASE)


def name_the_interviewee(question: str, snap: Snapshot) -> str:
    """ "Who is the interviewee?" -> "Who is Xuan Jin?" when the index holds one interviewee."""
    if _THE_INTERVIEWEE.search(question) and len(snap.interviewees) == 1:
        return _THE_INTERVIEWEE.sub(next(iter(snap.interviewees)), question)
    return question


def name_the_titled(question: str, snap: Snapshot, scope=None) -> str:
    """ "What did the professor say?" -> "What did Professor B say?" when exactly one speaker in
    the scope (service/rag/scope.py; None: the whole index) has that title before a one-letter
    code, as research meetings label people ("Professor B", "PhD D", "Grad A")."""
    titled = snap.speakers.titled(question)
    if not titled:
        return question
    mask = snap.rows_in(scope)
    for title, names in titled.items():
        present = [
            n for n in names
            if n in snap.speaker_rows and (mask is None or bool(mask[snap.speaker_rows[n]].any()))
        ]
        if len(present) == 1:
            question = re.sub(rf"\bthe\s+{re.escape(title)}\b", present[0], question, flags=re.IGNORECASE)
    return question


def keyword_text(text: str, meta: dict) -> str:
    """What BM25 indexes of a chunk: its speaker's name, the end of the turn it answers, the text."""
    context = meta.get(ix.K_QUESTION, "")[-CONTEXT_CHARS:]
    return f"{meta.get(ix.K_SPEAKER, '')} {context} {text}"


def topic_text(question: str, speakers: set[str]) -> str:
    """What the question is about: its search words without the names of the speakers it names
    (their passages are found by speaker; their sentences do not repeat their own names)."""
    names = {w.lower() for name in speakers for w in words(name)}
    kept = [w for w in query_text(question).split() if bare(w) not in names and w.lower() not in names]
    return " ".join(kept) or question


@dataclass
class Retrieval:
    """What the retriever found: candidates sorted by fused score (after rerank: the passages)."""

    question: str
    search_query: str
    hits: list[Hit]
    qvec: np.ndarray  # embedding of the question as searched (`query_text`), for sentence scoring
    ms: float  # time spent retrieving
    snapshot: Snapshot  # the index generation the hits come from
    speakers: frozenset[str] = frozenset()  # the speakers the question names
    topic: np.ndarray | None = None  # the question's topic (no phrasing words, no speaker names)
    pinned: int = 0  # the first hits were chosen by the conversation ("what did she say next?")


class Retriever:
    """Owns the snapshot of the live index generation: its collections, vectors and BM25 indexes."""

    def __init__(self, settings: Settings, embedder: Embedder, client: ClientAPI):
        self.settings = settings
        self.embedder = embedder
        self.client = client
        self.tokenizer = Tokenizer()
        self._lock = threading.Lock()
        self._checked = 0.0
        self._pool = ThreadPoolExecutor(4, thread_name_prefix="search")  # keyword scores beside the encode
        state = ix.read_state(client, settings)
        ix.check_model(state, settings, ix.store_label(settings))
        self.snap = self._load(state)

    # --- keyword index and snapshots -----------------------------------------------------
    def _bm25(self, corpus: list[list[str]]) -> bm25s.BM25:
        index = bm25s.BM25(k1=BM25_K1, b=BM25_B)
        index.index(corpus, show_progress=False)
        return index

    def _load(self, state: ix.IndexState) -> Snapshot:
        """Read the generation's chunks and vectors from Chroma and build the indexes over them."""
        chunks = ix.open_collection(self.client, self.settings, ix.CHUNK_SUFFIX, state.generation)
        sentences = ix.open_collection(self.client, self.settings, ix.SENTENCE_SUFFIX, state.generation)
        docs: dict[str, tuple[str, dict]] = {}
        vecs: dict[str, np.ndarray] = {}
        # In pages: one get of 100k records fails ("too many SQL variables" in the embedded store).
        for got in ix.read_pages(chunks, ["documents", "metadatas", "embeddings"], LOAD_PAGE):
            docs.update((i, (d, m)) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"]))
            vecs.update(zip(got["ids"], got["embeddings"]))
        if partial := ix.partial_transcripts(m for _, m in docs.values()):  # a sync was cut off
            log.warning("%d transcript(s) are half-written (an ingest was interrupted) and are not served "
                        "until a sync finishes them (rag-ingest, or POST /v1/ingest)", len(partial))
            docs = {i: r for i, r in docs.items() if r[1].get(ix.K_TRANSCRIPT, "") not in partial}
        ids = sorted(docs)
        metas = [docs[i][1] for i in ids]
        dim = len(next(iter(vecs.values()))) if vecs else 1
        vectors = np.array([vecs[i] for i in ids], dtype=np.float32).reshape(len(ids), dim)
        transcript_ids = sorted({m.get(ix.K_TRANSCRIPT, "") for m in metas})
        code = {t: n for n, t in enumerate(transcript_ids)}
        transcript_of = np.array([code[m.get(ix.K_TRANSCRIPT, "")] for m in metas], dtype=np.int64)
        turn_of = transcript_of * 1_000_000 + np.array([int(m.get(ix.K_TURN, 0)) for m in metas], dtype=np.int64)
        boost = np.minimum(1.0, np.array([len(docs[i][0]) for i in ids], dtype=np.float64) / SHORT_CHARS)
        by_speaker: dict[str, list[int]] = defaultdict(list)
        for row, m in enumerate(metas):
            by_speaker[m.get(ix.K_SPEAKER, "")].append(row)
        speaker_rows = {name: np.array(rows) for name, rows in by_speaker.items() if name}
        speakers = SpeakerNames(speaker_rows, (docs[i][0] for i in ids))
        corpus = [self.tokenizer.tokens(keyword_text(docs[i][0], docs[i][1])) for i in ids]
        bm25 = phrases = transcript_bm25 = None
        idf: dict[str, float] = {}
        if ids:
            bm25 = self._bm25(corpus)
            phrases = self._bm25([pairs(toks) for toks in corpus])
            whole: dict[int, list[str]] = defaultdict(list)
            for row, toks in enumerate(corpus):
                whole[int(transcript_of[row])] += toks
            titles = {m.get(ix.K_TRANSCRIPT, ""): m.get(ix.K_TITLE, "") for m in metas}
            for n, t in enumerate(transcript_ids):
                whole[n] += self.tokenizer.tokens(titles[t])
            transcript_bm25 = self._bm25([whole[n] for n in range(len(transcript_ids))])
            df: dict[str, int] = defaultdict(int)
            for toks in corpus:
                for t in set(toks):
                    df[t] += 1
            n = len(corpus)
            idf = {t: float(np.log(1 + (n - c + 0.5) / (c + 0.5))) for t, c in df.items()}
        return Snapshot(
            state.generation, state.version, chunks, sentences, docs, ids, bm25, phrases, idf, vectors,
            speakers, speaker_rows, transcript_ids, transcript_of, turn_of, boost, transcript_bm25,
        )

    def refresh(self) -> None:
        """Reload from what Chroma holds now (after an ingest or a rebuild)."""
        with self._lock:
            self.snap = self._load(ix.read_state(self.client, self.settings))
            self._checked = time.monotonic()

    def maybe_refresh(self, max_age: float = 1.0) -> bool:
        """Reload when another process or worker changed the index (checked at most every max_age s)."""
        if time.monotonic() - self._checked < max_age:
            return False
        self._checked = time.monotonic()
        state = ix.read_state(self.client, self.settings)
        if (state.generation, state.version) == (self.snap.generation, self.snap.version):
            return False
        self.refresh()
        return True

    @property
    def docs(self) -> dict[str, tuple[str, dict]]:
        return self.snap.docs

    @property
    def transcripts(self) -> int:
        return self.snap.transcripts

    # --- search --------------------------------------------------------------------------
    @staticmethod
    def _keyword_scores(index: bm25s.BM25 | None, tokens: list[str], n: int) -> np.ndarray:
        known = [t for t in tokens if index is not None and t in index.vocab_dict]
        if not known:
            return np.zeros(n)
        return np.asarray(index.get_scores(known), dtype=np.float64)

    def _keyword(self, snap: Snapshot, question: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """BM25 of the question over the chunks, over their phrases and over the whole transcripts."""
        laps = Laps()
        tokens = self.tokenizer.query_tokens(question)
        chunks = self._keyword_scores(snap.bm25, tokens, len(snap.ids))
        phrases = self._keyword_scores(snap.phrases, pairs(tokens), len(snap.ids))
        whole = self._keyword_scores(snap.transcript_bm25, tokens, len(snap.transcript_ids))
        laps.lap("keyword_search")
        return chunks, phrases, whole

    def _score(self, snap: Snapshot, keyword: tuple[np.ndarray, np.ndarray, np.ndarray], vec: np.ndarray,
               named: set[str]) -> tuple[np.ndarray, np.ndarray]:
        """The fused score of every chunk (see the module docstring), and each chunk's cosine."""
        laps = Laps()
        chunks_bm25, phrase_bm25, whole_bm25 = keyword
        cosine = snap.vectors @ vec.astype(np.float32)
        fused = self.settings.keyword_weight * zscore(chunks_bm25) + zscore(cosine.astype(np.float64))
        if phrase_bm25.any():
            fused += PHRASE_WEIGHT * zscore(phrase_bm25)
        laps.lap("dense_search")
        sigma = float(fused.std()) or 1.0
        for name in named:
            rows = snap.speaker_rows[name]
            fused[rows] += SPEAKER_BOOST * sigma * snap.boost[rows]
        n_transcripts = len(snap.transcript_ids)
        if n_transcripts > 1:
            best = top_mean(fused, snap.transcript_of, n_transcripts, PRIOR_TOP)
            fused += TRANSCRIPT_PRIOR * sigma * zscore(best)[snap.transcript_of]
            if whole_bm25.any():
                fused += TRANSCRIPT_KEYWORDS * sigma * zscore(whole_bm25)[snap.transcript_of]
        laps.lap("fuse")
        return fused / sigma, cosine

    def retrieve(self, question: str, history: list[str] | None = None, k: int | None = None,
                 scope=None) -> Retrieval:
        """Candidate chunks for the question, best fused score first, at most one piece of a turn
        (at most k; None: CANDIDATES of them). `scope` (service/rag/scope.py) limits them to some
        transcripts or speakers.

        A follow-up is also searched with the turn before it; a chunk keeps its better score.
        """
        started = time.perf_counter()
        self.maybe_refresh(self.settings.index_check_seconds)  # another worker or process re-ingested?
        snap = self.snap
        question = name_the_titled(name_the_interviewee(question, snap), snap, scope)
        if person := who_is(question):  # "What is X's job title?": where X is introduced, as "Who is X?"
            question = f"Who is {person}?"
        queries = [question]
        if history and is_follow_up(question):
            queries.append(f"{history[-1]} {question}")
        if not snap.ids:
            vec = self.embedder.encode([question])[0]
            return Retrieval(question, queries[-1], [], vec, (time.perf_counter() - started) * 1000, snap)
        # BM25 needs no vector: it runs beside the encode, off the critical path.
        keyword = [self._pool.submit(self._keyword, snap, q) for q in queries]
        named = set().union(*(snap.speakers.mentioned(q) for q in queries)) & set(snap.speaker_rows)
        # "Who is Xuan Jin?" is answered where others introduce him, not by his own turns: his
        # name is the topic, and his turns get no boost
        boosted = set() if person else named
        laps = Laps()
        # One encode of each distinct text: the search text of each query, and the topic (the
        # search text without the named speakers' names) only when it differs.
        texts = list(dict.fromkeys([query_text(q) for q in queries] + [topic_text(question, boosted)]))
        encoded = dict(zip(texts, self.embedder.encode(texts)))
        laps.lap("embed")
        vecs = [encoded[query_text(q)] for q in queries]
        topic = encoded[topic_text(question, boosted)]
        fused = cosine = None
        for vec, kw in zip(vecs, keyword):
            scores, cos = self._score(snap, kw.result(), vec, boosted)
            fused = scores if fused is None else np.maximum(fused, scores)
            cosine = cos if cosine is None else np.maximum(cosine, cos)
        mask = snap.rows_in(scope)
        if mask is not None:
            fused = np.where(mask, fused, -np.inf)
        hits: list[Hit] = []
        seen_turns: set[int] = set()
        for row in np.argsort(-fused, kind="stable"):
            if not np.isfinite(fused[row]):
                break
            turn = int(snap.turn_of[row])
            if turn in seen_turns:
                continue
            seen_turns.add(turn)
            cid = snap.ids[row]
            text, meta = snap.docs[cid]
            hits.append(Hit(cid, text, meta, round(float(fused[row]), 4), float(cosine[row])))
            if len(hits) == (k or self.settings.candidates):
                break
        ms = (time.perf_counter() - started) * 1000
        return Retrieval(question, queries[-1], hits, vecs[0], ms, snap, frozenset(boosted), topic)
