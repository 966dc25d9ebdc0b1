"""Hybrid retrieval: the candidate passages for a question, best first.

A passage (service/rag/passages.py) is a window of a conversation's turns, an interview answer, or
an intro. Each gets one relevance score, computed exactly over the whole index generation: the
weighted sum of its FEATURES (keyword and phrase BM25, the cosine to the question, the share said
by a speaker the question names, and how much its transcript is about the question), with the
weights fitted on train splits of four corpora (service/rag/params.py, `rag-tune`), in units of
the sum's spread over the index. Standardised features (z over all passages) keep the weights
independent of the embedding model's cosine scale.

BM25 reads each passage with its speakers' names and the end of the turn before it; the question
is searched without its phrasing words ("summarize", "what did … say"). The phrase index is a
second BM25 over the same text read as pairs of adjacent content words: a passage that says
"long-term care" beats one that says "long" and "care" apart. Two pieces of one long turn may both
be returned (on the interview and the hearings, dropping the second lost the answer: bench/ablation.py
notes). The vectors of a generation are read from Chroma once, into the `Snapshot`; a question
costs one encode and a few matrix products, at any corpus size that fits in memory (4 bytes x 384
per turn, twice: turns and windows).

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
from ingest.speakers import SpeakerNames, bare
from service.rag import params as params_file
from service.rag import passages
from service.rag.anaphora import is_follow_up
from service.rag.intent import who_is
from service.rag.passages import Passages
from service.rag.stages import Laps
from service.rag.text import Tokenizer, pairs, query_text, words
from service.settings import ServiceSettings

log = logging.getLogger("service")
LOAD_PAGE = 5000  # chunk records read from Chroma per call when building the keyword index

# The relevance features of a passage, in the columns of `Retriever.features`; their weights are
# fitted (service/rag/params.py, rag-tune).
FEATURES = (
    "keywords",  # z(BM25 of the question over the passage: its text, speakers, the turn it follows)
    "meaning",  # z(cosine of the question and the passage)
    "phrases",  # z(BM25 over adjacent word pairs: "long-term care" said together)
    "speaker",  # the share of the passage said by a speaker the question names (SHORT_CHARS: all of it)
    "transcript",  # z(the transcript's mean top-PRIOR_TOP keywords + meaning): the sitting it is about
    "transcript_keywords",  # z(BM25 of the question over the whole transcript, title included)
)
SHORT_CHARS = 100  # a named speaker's words count whole from this long ("Yes." gets 4/100)
PRIOR_TOP = 20
CONTEXT_CHARS = 200  # how much of the turn a passage follows goes into its keyword text
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
    docs: dict[str, tuple[str, dict]]  # chunk id -> (text, metadata): every stored turn
    idf: dict[str, float]  # token -> inverse document frequency over this generation's chunks
    speakers: SpeakerNames
    transcript_ids: list[str]  # transcript code -> id
    transcript_bm25: bm25s.BM25 | None  # one document per transcript: title, speakers, all text
    passages: Passages  # what is scored and cited: conversation turns in windows (service/rag/passages.py)
    turns: Passages  # every turn its own passage: searched within a scope of speakers
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

    # the passages' arrays
    @property
    def ids(self) -> list[str]:
        return self.passages.ids

    @property
    def vectors(self) -> np.ndarray:
        return self.passages.vectors

    @property
    def transcript_of(self) -> np.ndarray:
        return self.passages.transcript_of

    @property
    def speaker_rows(self) -> dict[str, np.ndarray]:
        return self.passages.speaker_rows

    def units(self, scope, single_turns: bool = False) -> Passages:
        """The passages a scope is searched over: single turns when it names speakers."""
        if single_turns or (scope is not None and scope.speakers is not None):
            return self.turns
        return self.passages


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
    turns = snap.turns
    mask = turns.rows_in(scope, snap.transcript_ids)
    for title, names in titled.items():
        present = [
            n for n in names
            if n in turns.speaker_rows and (mask is None or bool(mask[turns.speaker_rows[n]].any()))
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
    scope: object = None  # the part of the index searched (service/rag/scope.py Scope; None: all of it)


class Retriever:
    """Owns the snapshot of the live index generation: its collections, vectors and BM25 indexes."""

    def __init__(self, settings: ServiceSettings, embedder: Embedder, client: ClientAPI):
        self.settings = settings
        self.embedder = embedder
        self.client = client
        self.tokenizer = Tokenizer()
        self._lock = threading.Lock()
        self._checked = 0.0
        self._pool = ThreadPoolExecutor(4, thread_name_prefix="search")  # keyword scores beside the encode
        self.params = params_file.load(settings.params_file)
        self.params.check("fusion", self.params.fusion, FEATURES)
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
        ids = sorted(docs)  # by transcript, turn and piece (ix.chunk_id)
        metas = [docs[i][1] for i in ids]
        dim = len(next(iter(vecs.values()))) if vecs else 1
        vectors = np.array([vecs[i] for i in ids], dtype=np.float32).reshape(len(ids), dim)
        transcript_ids = sorted({m.get(ix.K_TRANSCRIPT, "") for m in metas})
        code = {t: n for n, t in enumerate(transcript_ids)}
        speakers = SpeakerNames({m.get(ix.K_SPEAKER, "") for m in metas}, (docs[i][0] for i in ids))
        corpus = [self.tokenizer.tokens(keyword_text(docs[i][0], docs[i][1])) for i in ids]
        turns = passages.build(ids, docs, vectors, corpus, code, windowed=False)
        windows = passages.build(ids, docs, vectors, corpus, code, windowed=True,
                                 target=self.params.window_target, limit=self.params.window_limit)
        transcript_bm25 = None
        idf: dict[str, float] = {}
        if ids:
            for units in (turns, windows):
                units.bm25 = self._bm25(units.tokens)
                units.phrases = self._bm25([pairs(toks) for toks in units.tokens])
            whole: dict[int, list[str]] = defaultdict(list)
            for row, toks in enumerate(corpus):
                whole[code[metas[row].get(ix.K_TRANSCRIPT, "")]] += toks
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
        return Snapshot(state.generation, state.version, chunks, sentences, docs, idf, speakers,
                        transcript_ids, transcript_bm25, windows, turns)

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

    def _keyword(self, snap: Snapshot, units: Passages, question: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """BM25 of the question over the passages, over their phrases and over the whole transcripts."""
        laps = Laps()
        tokens = self.tokenizer.query_tokens(question)
        scores = self._keyword_scores(units.bm25, tokens, len(units.ids))
        phrases = self._keyword_scores(units.phrases, pairs(tokens), len(units.ids))
        whole = self._keyword_scores(snap.transcript_bm25, tokens, len(snap.transcript_ids))
        laps.lap("keyword_search")
        return scores, phrases, whole

    def weights(self) -> np.ndarray:
        """The fitted weight of each feature, in FEATURES order."""
        return np.array([self.params.fusion.get(name, 0.0) for name in FEATURES])

    def _features(self, snap: Snapshot, units: Passages, keyword: tuple[np.ndarray, np.ndarray, np.ndarray],
                  vec: np.ndarray, named: set[str]) -> tuple[np.ndarray, np.ndarray]:
        """Every passage's features (one row each, columns in FEATURES order), and its cosine."""
        laps = Laps()
        passage_bm25, phrase_bm25, whole_bm25 = keyword
        cosine = units.vectors @ vec.astype(np.float32)
        feats = np.zeros((len(units.ids), len(FEATURES)))
        feats[:, 0] = zscore(passage_bm25)
        feats[:, 1] = zscore(cosine.astype(np.float64))
        if phrase_bm25.any():
            feats[:, 2] = zscore(phrase_bm25)
        laps.lap("dense_search")
        for name in named:
            feats[units.speaker_rows[name], 3] += np.minimum(1.0, units.speaker_chars[name] / SHORT_CHARS)
        n_transcripts = len(snap.transcript_ids)
        if n_transcripts > 1:
            best = top_mean(feats[:, 0] + feats[:, 1], units.transcript_of, n_transcripts, PRIOR_TOP)
            feats[:, 4] = zscore(best)[units.transcript_of]
            if whole_bm25.any():
                feats[:, 5] = zscore(whole_bm25)[units.transcript_of]
        laps.lap("fuse")
        return feats, cosine

    def _score(self, snap: Snapshot, units: Passages, keyword: tuple[np.ndarray, np.ndarray, np.ndarray],
               vec: np.ndarray, named: set[str]) -> tuple[np.ndarray, np.ndarray]:
        """The fused score of every passage, in units of its spread over the index, and its cosine."""
        feats, cosine = self._features(snap, units, keyword, vec, named)
        fused = feats @ self.weights()
        return fused / (float(fused.std()) or 1.0), cosine

    def _query(self, question: str, snap: Snapshot, scope=None) -> tuple[str, str | None]:
        """The question as searched, and the person it asks about ("What is X's job title?" is
        answered where X is introduced, as "Who is X?")."""
        question = name_the_titled(name_the_interviewee(question, snap), snap, scope)
        if person := who_is(question):
            question = f"Who is {person}?"
        return question, person

    def features(self, question: str, scope=None) -> tuple[np.ndarray, np.ndarray | None]:
        """The features of every passage (rows of `snap.units(scope)`) for a question asked
        alone, and the scope's mask (None: every row): what rag-tune fits the weights on."""
        snap = self.snap
        question, person = self._query(question, snap, scope)
        units = snap.units(scope)
        named = set() if person else snap.speakers.mentioned(question) & set(units.speaker_rows)
        vec = self.embedder.encode([query_text(question)])[0]
        feats, _ = self._features(snap, units, self._keyword(snap, units, question), vec, named)
        return feats, units.rows_in(scope, snap.transcript_ids)

    def retrieve(self, question: str, history: list[str] | None = None, k: int | None = None,
                 scope=None, single_turns: bool = False) -> Retrieval:
        """Candidate passages for the question, best fused score first (at most k; None:
        CANDIDATES of them). `scope` (service/rag/scope.py) limits them to some
        transcripts or speakers; `single_turns`: every turn its own passage (no windows).

        A follow-up is also searched with the turn before it; a chunk keeps its better score.
        """
        started = time.perf_counter()
        self.maybe_refresh(self.settings.index_check_seconds)  # another worker or process re-ingested?
        snap = self.snap
        question, person = self._query(question, snap, scope)
        queries = [question]
        if history and is_follow_up(question):
            queries.append(f"{history[-1]} {question}")
        units = snap.units(scope, single_turns)
        if not units.ids:
            vec = self.embedder.encode([question])[0]
            return Retrieval(question, queries[-1], [], vec, (time.perf_counter() - started) * 1000, snap,
                             scope=scope)
        # BM25 needs no vector: it runs beside the encode, off the critical path.
        keyword = [self._pool.submit(self._keyword, snap, units, q) for q in queries]
        named = set().union(*(snap.speakers.mentioned(q) for q in queries)) & set(units.speaker_rows)
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
            scores, cos = self._score(snap, units, kw.result(), vec, boosted)
            fused = scores if fused is None else np.maximum(fused, scores)
            cosine = cos if cosine is None else np.maximum(cosine, cos)
        mask = units.rows_in(scope, snap.transcript_ids)
        if mask is not None:
            fused = np.where(mask, fused, -np.inf)
        hits: list[Hit] = []
        for row in np.argsort(-fused, kind="stable"):
            if not np.isfinite(fused[row]):
                break
            cid, text, meta = units.hit(row)
            hits.append(Hit(cid, text, meta, round(float(fused[row]), 4), float(cosine[row])))
            if len(hits) == (k or self.settings.candidates):
                break
        ms = (time.perf_counter() - started) * 1000
        return Retrieval(question, queries[-1], hits, vecs[0], ms, snap, frozenset(boosted), topic, scope=scope)
