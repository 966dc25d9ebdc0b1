"""What each transcript of the folder is about, in a few words: its most distinctive terms.

TF-IDF (scikit-learn's `TfidfVectorizer`) over each transcript's words, single words and two-word
phrases, built once per index snapshot:
- stop words are the language's (`STOP_WORDS`: English ships; another language is another list);
- a term counts only if at most `MAX_SHARE` of the transcripts use it: what nearly every
  transcript says ("yeah", "committee", the brief a meeting series shares) describes none of them
  (with fewer than `FEW` transcripts every term may count);
- speakers' names are not topics ("Lynne Neagle" is distinctive, but it is who, not what);
- a term is shown as the transcripts most often write it ("Alibaba Cloud", not "alibaba cloud").

The library shows each transcript's terms as its topic line; the starter questions are built from
them (service/rag/starters.py).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

from ingest import store as ix
from service.rag.evidence import PREFIX
from service.rag.per_snapshot import PerSnapshot

STOP_WORDS = ENGLISH_STOP_WORDS  # the language's function words
TERMS = 5  # terms a transcript's topic line shows
MAX_SHARE = 0.5  # a term used by more than this share of the transcripts describes none of them
FEW = 4  # with fewer transcripts than this, no term is too common to count
# a phrase this close to its word's score is what the word is used in (with sublinear TF, 0.75 of
# the score: a phrase used about a third as often as its word, or more)
PHRASE_SHARE = 0.75
# a word: three letters or more, no digits (numbers and "um", "uh" say nothing of a topic)
_TOKEN = r"(?u)\b[^\W\d_][^\W\d_’'-]{2,}\b"


@dataclass(frozen=True)
class FolderTerms:
    terms: dict[str, list[str]]  # transcript id -> its most distinctive terms, the most first
    spread: dict[str, int]  # a term (as shown) -> how many transcripts use it


def _texts(snapshot) -> tuple[list[str], list[str], set[str]]:
    """The transcript ids, each one's words (every turn, in no particular order), and the
    speakers' name words (folded)."""
    said: dict[str, list[str]] = defaultdict(list)
    names: set[str] = set()
    for text, meta in snapshot.docs.values():
        said[meta.get(ix.K_TRANSCRIPT, "")].append(text)
        names.update(w.casefold() for w in re.findall(r"[^\W\d_]+", meta.get(ix.K_SPEAKER, "")))
    ids = sorted(said)
    return ids, [" ".join(said[t]) for t in ids], names


def _shown(term: str, text: str) -> str | None:
    """`term` as `text` most often writes it inside a sentence (a capital there is a name's:
    "Alibaba Cloud"; at a sentence's start it says nothing), in lower case if it only opens
    sentences; None if `text` never writes its words side by side (a phrase across a full stop)."""
    pattern = r"(?<![\w’'-])" + r"\s+".join(map(re.escape, term.split())) + r"(?![\w’'-])"
    found = list(re.finditer(pattern, text, re.IGNORECASE))
    if not found:
        return None
    inside = Counter(m.group() for m in found if not re.search(r"(?:^|[.!?…:]\s*)$", text[max(0, m.start() - 3):m.start()]))
    return " ".join(inside.most_common(1)[0][0].split()) if inside else term


def _stems(term: str) -> set[str]:
    """A term's words by their first PREFIX letters: "Canada" and "Canadians" are one family."""
    return {w[:PREFIX] for w in term.split()}


def _pick(scored: list[tuple[str, float]], n: int, shown=lambda term: term) -> list[str]:
    """The best `n` terms, best first, each as `shown(term)` writes it (a term it gives None for is
    left out); a word gives way to a phrase holding it that scores at least PHRASE_SHARE of what
    the word does ("Alibaba" to "Alibaba Cloud"), and no two terms shown share a word, or a word's
    family ("care homes" and "homes need", "Canada" and "Canadians", are one topic)."""
    phrases = [(t, sc) for t, sc in scored if " " in t]
    out: list[str] = []
    for term, score in scored:
        if " " not in term:
            term = next((p for p, sc in phrases if term in p.split() and sc >= PHRASE_SHARE * score), term)
        if any(_stems(term) & _stems(t.casefold()) for t in out) or (form := shown(term)) is None:
            continue
        out.append(form)
        if len(out) == n:
            break
    return out


def _build(snapshot) -> FolderTerms:
    ids, texts, names = _texts(snapshot)
    if not ids:
        return FolderTerms({}, {})
    vectorizer = TfidfVectorizer(
        ngram_range=(1, 2), stop_words=sorted(STOP_WORDS | names), token_pattern=_TOKEN, sublinear_tf=True,
        max_df=MAX_SHARE if len(ids) >= FEW else 1.0, min_df=1, dtype=np.float32)
    try:
        matrix = vectorizer.fit_transform(texts)
    except ValueError:  # no word left (an index of numbers, or of names only)
        return FolderTerms({t: [] for t in ids}, {})
    vocab = vectorizer.get_feature_names_out()
    words = {t for t in vocab if " " not in t}
    used = np.asarray((matrix > 0).sum(axis=0)).ravel()
    terms: dict[str, list[str]] = {}
    spread: dict[str, int] = {}
    for row, (tid, text) in enumerate(zip(ids, texts)):
        scores = matrix.getrow(row)
        order = np.argsort(-scores.data)
        top = [(vocab[scores.indices[i]], float(scores.data[i]), int(used[scores.indices[i]]))
               for i in order[: TERMS * 8]]
        # a phrase of words that are each too common to count ("yeah okay") is not a topic either
        top = [(t, sc, n) for t, sc, n in top if " " not in t or any(w in words for w in t.split())]
        chosen = _pick([(t, sc) for t, sc, _ in top], TERMS, lambda t, text=text: _shown(t, text))
        terms[tid] = chosen
        count = {t: n for t, _, n in top}
        spread.update({form: count[form.casefold()] for form in chosen if form.casefold() in count})
    return FolderTerms(terms, spread)


_TERMS = PerSnapshot(_build)


def folder_terms(snapshot) -> FolderTerms:
    """Each transcript's most distinctive terms (built once per snapshot)."""
    return _TERMS.get(snapshot)
