"""The evidence stage: everything the built-in answerer weighs, computed once for the top passages.

For each of the first EVIDENCE_PASSAGES passages (DIGEST_PASSAGES for a digest) it gathers the
passage's sentences (read from the sentence collection, kept on the snapshot), each sentence's
cosine to the question, each sentence's stemmed tokens, and, for an interview answer, the cosine
between the question and the interviewer question it answers; for the question, its tokens and
their IDF weights, and how much of its topic the index and the passages never mention. The
answerer (service/rag/extractive.py) receives this as an `Evidence` and reads nothing else: no
store, no model.

The sentence vectors are the ones ingest stored: late-chunked, from the same forward pass as their
passage (ingest/embed.py), so nothing is encoded here but an interview's question on first use
(cached, bounded, oldest out first). A first-time question costs one query encode in all.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from ingest import store as ix
from ingest.embed import Embedder
from service.rag.intent import DIGEST_PASSAGES, is_digest
from service.rag.passages import members_of
from service.rag.retrieve import Hit, Retrieval, Snapshot, topic_text
from service.rag.text import Tokenizer

PREFIX = 5  # letters two forms of a word share ("legitimacy", "legitimate")
SPECIFIC_LETTERS = 8  # a word this long (or capitalised) names something specific
EVIDENCE_PASSAGES = 3  # sentences are drawn from this many top passages
CACHE_MAX = 20000  # entries per cache: texts per embedding cache (384 floats each), chunks per snapshot


@dataclass(frozen=True)
class Sentence:
    """One sentence of a passage, as the answerer weighs it."""

    text: str
    index: int  # position in its passage, from 0
    start: int  # span in the source file
    end: int
    similarity: float  # cosine(question, this sentence encoded on its own)
    tokens: tuple[str, ...]  # stemmed content words, in order
    speaker: str = ""  # who said it (a passage of several turns has several speakers)
    turn: int = 0  # the number of the turn it is in (a passage is a window of turns)


@dataclass(frozen=True)
class Passage:
    """One of the top passages: its citation number, relevance, and sentences."""

    n: int  # citation number: the passage's rank, from 1
    score: float  # relevance given by retrieval (or the reranker)
    first_piece: bool  # the opening piece of its answer turn
    asked: float  # cosine(question, the interviewer question this passage answers)
    speaker: str  # who says most of it
    sentences: tuple[Sentence, ...] = ()
    # it uses a name the question's topic holds ("Paris") and none of its other topic words
    # ("weather"): it is about what the question names, not about what it asks
    names_only: bool = False
    title: str = ""  # the title of its transcript
    text: str = ""  # the passage as retrieved (its sentences are spans of it)


@dataclass(frozen=True)
class Evidence:
    """What the answerer needs to quote or abstain, for one question."""

    question: str
    tokens: tuple[str, ...]  # stemmed content words of the question, in order
    weights: dict[str, float]  # IDF weight of each question token (an unseen one weighs as the rarest)
    passages: tuple[Passage, ...]
    # the share of the question's topic words that no transcript uses in any form ("Bitcoin" in
    # hearings on the pandemic): a question about them is most likely not covered
    unknown: float = 0.0
    # the IDF-weighted share of the question's topic words that none of these passages uses, in
    # any form: passages that never name what was asked about hold no answer to it
    missing: float = 0.0
    pinned: int = 0  # the first passages are what the conversation points at (service/rag/followup.py)
    speakers: frozenset[str] = frozenset()  # the speakers the question names


@dataclass
class Quote:
    """A sentence of the evidence scored as an answer: what the built-in answerer quotes."""

    n: int  # citation number (1-based rank of the passage)
    text: str
    start: int  # span in the source file
    end: int
    score: float
    base: float = 0.0  # the score without the passage's lead (how well the sentence itself answers)
    speaker: str = ""
    overlap: float = 0.0  # the IDF-weighted share of the question's words the sentence uses
    index: int = -1  # the sentence's position in its passage (Passage.sentences)


def similarity(retrieval: Retrieval, vec: np.ndarray) -> float:
    """How close a sentence is to the question: to the question as asked, or to its topic alone
    ("What did Bains say about loans?" is answered by a sentence about loans, without "Bains")."""
    sim = float(np.dot(retrieval.qvec, vec))
    if retrieval.topic is not None:
        sim = max(sim, float(np.dot(retrieval.topic, vec)))
    return sim


def uses_only(sentences: tuple[Sentence, ...], names: set[str], others: set[str]) -> bool:
    """The sentences use some of the names and none of the other words, not even by their
    first PREFIX letters."""
    if not names or not others:
        return False
    used = {t for s in sentences for t in s.tokens}
    used |= {t[:PREFIX] for t in used}
    def uses(t: str) -> bool:
        return t in used or t[:PREFIX] in used
    return any(uses(t) for t in names) and not any(uses(t) for t in others)


class EvidenceBuilder:
    """Builds the `Evidence` for a reranked retrieval; owns the sentence and question vector caches."""

    def __init__(self, embedder: Embedder, passages: int = EVIDENCE_PASSAGES):
        self.embedder = embedder
        self.passages = passages
        self.tokenizer = Tokenizer()
        self.question_vectors: dict[str, np.ndarray] = {}  # interviewer question -> embedding
        self.lock = threading.Lock()  # writers of the caches (and of a snapshot's sentence records)

    def build(self, retrieval: Retrieval, passages: int | None = None) -> Evidence:
        """The evidence of the first passages of the retrieval (`passages` of them; None: as many
        as the question needs)."""
        wanted = passages or (max(self.passages, DIGEST_PASSAGES) if is_digest(retrieval.question) else self.passages)
        hits = retrieval.hits[:wanted]
        tokens = tuple(self.tokenizer.query_tokens(retrieval.question))
        idf = retrieval.snapshot.idf
        unseen = max(idf.values(), default=1.0)
        weights = {t: idf.get(t, unseen) for t in tokens}
        unknown = self.unknown_share(retrieval)
        if not hits:
            return Evidence(retrieval.question, tokens, weights, (), unknown)
        records = self.sentence_records(retrieval.snapshot, hits)
        # An interview answer's question says what was asked: an opening that answers what the
        # user asks states the point. A conversation turn answers no one question.
        questions = [h.meta.get(ix.K_QUESTION, "") if h.meta.get(ix.K_KIND) != "conversation" else ""
                     for h in hits]
        qvecs = self.vectors(self.question_vectors, [q for q in questions if q])
        topic_names, topic_words = self.topic_parts(retrieval)
        docs = retrieval.snapshot.docs
        passages = []
        for n, (hit, question) in enumerate(zip(hits, questions), 1):
            said = [
                (doc, meta, vec, docs.get(cid, ("", hit.meta))[1])
                for cid in members_of(hit.meta, hit.id) for doc, meta, vec in records[cid]
            ]
            sentences = tuple(
                Sentence(doc, index, meta[ix.K_START], meta[ix.K_END], similarity(retrieval, vec),
                         tuple(self.tokenizer.tokens(doc)), turn.get(ix.K_SPEAKER, ""), int(turn.get(ix.K_TURN, 0)))
                for index, (doc, meta, vec, turn) in enumerate(said)
            )
            asked = float(np.dot(retrieval.qvec, qvecs[question])) if question else 0.0
            passages.append(Passage(
                n, hit.score, int(hit.meta.get(ix.K_PIECE, 1)) == 1, asked, hit.meta.get(ix.K_SPEAKER, ""), sentences,
                uses_only(sentences, topic_names, topic_words),
                hit.meta.get(ix.K_TITLE) or hit.meta.get(ix.K_TRANSCRIPT, ""), hit.text,
            ))
        return Evidence(retrieval.question, tokens, weights, tuple(passages), unknown,
                        self.missing_share(retrieval, passages), retrieval.pinned, retrieval.speakers)

    def topic_parts(self, retrieval: Retrieval) -> tuple[set[str], set[str]]:
        """The topic's names (capitalised past the first word: "Paris", "World Cup") and its
        other words ("weather"), as stemmed tokens."""
        topic = topic_text(retrieval.question, set(retrieval.speakers)).split()
        named = [n > 0 and w[:1].isupper() for n, w in enumerate(topic)]
        names = set(self.tokenizer.query_tokens(" ".join(w for w, c in zip(topic, named) if c)))
        others = set(self.tokenizer.query_tokens(" ".join(w for w, c in zip(topic, named) if not c)))
        return names, others - names

    def missing_share(self, retrieval: Retrieval, passages: list[Passage]) -> float:
        """The IDF-weighted share of the topic words (search words less the named speakers' names)
        that no sentence of the passages uses, not even by their first PREFIX letters."""
        topic = set(self.tokenizer.query_tokens(topic_text(retrieval.question, set(retrieval.speakers))))
        if not topic:
            return 0.0
        used = {t for p in passages for s in p.sentences for t in s.tokens}
        used |= {t[:PREFIX] for t in used}
        idf = retrieval.snapshot.idf
        unseen = max(idf.values(), default=1.0)
        weight = {t: idf.get(t, unseen) for t in topic}
        missing = sum(w for t, w in weight.items() if t not in used and t[:PREFIX] not in used)
        return missing / (sum(weight.values()) or 1.0)

    def unknown_share(self, retrieval: Retrieval) -> float:
        """The share of the topic words (search words less the named speakers' names) that are
        specific (a name, or a long word) and match no word of the index, not even by their first
        PREFIX letters: "legitimacy" matches "legitimate", "behavior" matches "behaviour";
        "Bitcoin" matches nothing in hearings on the pandemic. Common short words ("raised") never
        count: a small index lacks many of them without lacking the topic."""
        topic = topic_text(retrieval.question, set(retrieval.speakers)).split()
        if not topic:
            return 0.0
        snap = retrieval.snapshot
        prefixes = snap.prefixes
        if prefixes is None:
            prefixes = snap.prefixes = {t[:PREFIX] for t in snap.idf}
        unknown = 0
        for n, word in enumerate(topic):
            specific = len(word) >= SPECIFIC_LETTERS or (n > 0 and word[:1].isupper() and len(word) >= 3)
            stems = self.tokenizer.query_tokens(word)
            if specific and stems and all(t not in snap.idf and t[:PREFIX] not in prefixes for t in stems):
                unknown += 1
        return unknown / len(topic)

    def sentence_records(self, snap: Snapshot, hits: list[Hit]) -> dict[str, list[tuple[str, dict, np.ndarray]]]:
        """The sentence records (text, metadata, stored vector) of each turn (chunk) of the hits'
        passages, in order; read from Chroma on first use.

        Only whole records are kept on the snapshot: a sync may be rewriting a chunk's sentences.
        """
        records = snap.sentence_records
        wanted = {cid: snap.docs.get(cid, ("", h.meta))[1] for h in hits for cid in members_of(h.meta, h.id)}
        missing = [cid for cid in wanted if cid not in records]
        fresh: dict[str, list[tuple[str, dict, np.ndarray]]] = {cid: [] for cid in missing}
        if missing:
            ids = [ix.sentence_id(cid, j) for cid in missing for j in range(int(wanted[cid].get(ix.K_NSENT, 0)))]
            got = snap.sentences.get(ids=ids, include=["documents", "metadatas", "embeddings"]) if ids else None
            for doc, meta, vec in zip(got["documents"], got["metadatas"], got["embeddings"]) if got else ():
                fresh[meta[ix.K_CHUNK]].append((doc, meta, np.asarray(vec, dtype=np.float32)))
            for lst in fresh.values():
                lst.sort(key=lambda x: x[1][ix.K_SENT])
            with self.lock:
                for cid in missing:
                    if len(fresh[cid]) == int(wanted[cid].get(ix.K_NSENT, 0)):
                        records[cid] = fresh[cid]
                while len(records) > CACHE_MAX:
                    records.pop(next(iter(records)))
        return {cid: records.get(cid) or fresh.get(cid) or [] for cid in wanted}

    def vectors(self, cache: dict[str, np.ndarray], texts: list[str]) -> dict[str, np.ndarray]:
        """Embeddings of `texts`, encoding only those not in `cache` (bounded, oldest out first)."""
        out = {t: cache.get(t) for t in dict.fromkeys(texts)}
        missing = [t for t, v in out.items() if v is None]
        if missing:
            encoded = self.embedder.encode(missing)
            with self.lock:
                for t, v in zip(missing, encoded):
                    out[t] = cache[t] = v
                while len(cache) > CACHE_MAX:
                    cache.pop(next(iter(cache)))
        return out
