"""Speakers: who a label names, and which speakers a question or a filter means.

Labels are written many ways: `Mr. Gabriel Ste-Marie (Joliette, BQ)`, `Mr. Ste-Marie`,
`The Chair (Hon. Anthony Rota (Nipissing–Timiskaming, Lib.))`, `Kirsty Williams AM`. `person`
turns a label (and the parenthesis after it) into a name without honorifics and a role, and
`SpeakerNames` matches what people type ("Ste-Marie", "Mr. Ste-Marie", "gabriel ste-marie",
"JustinTrudeau", a one-letter typo of a long surname) to those names. Everything is derived from
the labels and the text of the transcripts themselves; no list of people is built in.

Ingest uses `person` to name each turn's speaker; the service uses `SpeakerNames` for
speaker-aware retrieval and for the `speakers` filter.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from itertools import pairwise

HONORIFICS = {
    "hon", "honourable", "honorable", "right", "rt", "mr", "mrs", "ms", "miss", "mx", "dr", "prof",
    "professor", "sir", "dame", "lord", "lady", "baroness", "baron", "cllr", "councillor", "am",
    "mp", "mla", "ms.", "msp", "td", "senator", "sen", "rep", "representative", "the",
}  # fmt: skip
# Labels that name a role rather than a person ("The Chair (Hon. Anthony Rota …)").
ROLE_WORDS = {
    "chair", "acting", "chairman", "chairwoman", "chairperson", "speaker", "deputy", "vice",
    "moderator", "host", "co-host", "cohost", "presenter", "clerk", "president", "convener",
    "convenor", "interviewer", "facilitator", "the",
}  # fmt: skip
# A word of a name or of a question: letters and digits, with inner hyphens and apostrophes.
_WORD = re.compile(r"[^\W_][\w'\-]*")


def plain(text: str) -> str:
    """Accents removed (Ste-Marie and Sté-Marie are one name to a reader)."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


POST_NOMINALS = {"am", "mp", "mla", "msp", "td", "ms", "mpp", "mna", "qc", "kc", "obe", "mbe", "cbe", "phd"}


def is_code(word: str) -> bool:
    """A one-letter code that stands for a person ("C" in `Professor C`, `PhD D`)."""
    return len(word) == 1 and word.isalpha()


def clean_name(text: str) -> str:
    """A name without leading honorifics, parentheses or trailing post-nominals: `Hon. Bill
    Morneau` -> `Bill Morneau`, `Kirsty Williams AM` -> `Kirsty Williams`; a title word inside
    a name stays (`Amartya Sen`, `Sacha Baron Cohen`, `Jo Lord`), and so does a title before a
    one-letter code (`Professor C`: the code alone names no one)."""
    text = re.sub(r"\([^()]*(?:\([^()]*\)[^()]*)*\)", " ", text)
    tokens = text.replace(".", ". ").split()
    key = [t.lower().strip(".,") for t in tokens]
    start, end = 0, len(tokens)
    while start < end - 1 and key[start] in HONORIFICS:
        if end - start == 2 and is_code(key[end - 1]):
            break
        start += 1
    while end - 1 > start and key[end - 1] in POST_NOMINALS:
        end -= 1
    return " ".join(tokens[start:end]).replace(" .", ".").strip(" ,.")


def _is_role(label: str) -> bool:
    tokens = [t.lower().strip(".,") for t in label.split()]
    return bool(tokens) and all(t in ROLE_WORDS for t in tokens) and tokens != ["the"]


def person(label: str, paren: str = "") -> tuple[str, str]:
    """(name, role) of a speaker label and the parenthesis written after it, if any.

    `The Chair` + `Hon. Anthony Rota (Nipissing, Lib.)` -> (`Anthony Rota`, `The Chair`);
    `Hon. Bill Morneau` + `Minister of Finance` -> (`Bill Morneau`, `Minister of Finance`);
    `Jane Doe` -> (`Jane Doe`, ``). A role label with no person in it keeps its words as the name.
    """
    label, paren = " ".join(label.split()), " ".join(paren.split())
    if _is_role(label) and paren:
        inner = clean_name(paren)
        if inner and inner[0].isupper() and len(inner.split()) <= 5:
            return inner, label
    name = clean_name(label) or label
    return name, paren


def _edit1(a: str, b: str) -> bool:
    """Levenshtein distance at most 1."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = j = edits = 0
    while i < len(a) and j < len(b):
        if a[i] != b[j]:
            edits += 1
            if edits > 1:
                return False
            if len(a) == len(b):
                i += 1
            j += 1
        else:
            i += 1
            j += 1
    return edits + (len(b) - j) <= 1


def _deletions(word: str) -> set[str]:
    """The word and each way of leaving one letter out: two words one edit apart share one."""
    return {word} | {word[:i] + word[i + 1 :] for i in range(len(word))}


class _NearWords:
    """Words found by a word one letter off (left out, added or changed), in time linear in the
    word's length: each word is filed under its deletions (the symmetric-delete method)."""

    def __init__(self, words: Iterable[str]):
        self._by_deletion: dict[str, set[str]] = defaultdict(set)
        self._longest = 0
        for word in words:
            self._longest = max(self._longest, len(word))
            for key in _deletions(word):
                self._by_deletion[key].add(word)

    def near(self, word: str) -> set[str]:
        if len(word) > self._longest + 1:  # no word is that close (and a long one costs len²)
            return set()
        found: set[str] = set()
        for key in _deletions(word):
            found |= self._by_deletion.get(key, set())
        return {w for w in found if _edit1(word, w)}


def bare(word: str) -> str:
    """A word without a possessive `'s` or `’s` (`Ste-Marie's` -> `ste-marie`, `Jones'` ->
    `jones`), lower case; only the suffix goes (`Smith's` -> `smith`, not `mith`)."""
    return re.sub(r"['’]s?$", "", word.lower())


def _tokens(text: str) -> list[str]:
    return _WORD.findall(plain(text).lower())


# Words a filter value may hold beside a name: `Mr.`, `Hon.`, `The Chair`, `MP`.
TITLE_WORDS = frozenset(HONORIFICS | ROLE_WORDS | POST_NOMINALS)
TYPO_MIN = 6  # a word this long may be one letter off ("Dzerowitz", "Morneu")


def _accounted(words: list[str], tokens: Iterable[str]) -> bool:
    """Whether each word is a word of the name of its own (each name word used once: the word
    itself, one letter off when long, or its initial), or else a title."""
    left = list(tokens)
    for word in words:
        fits = [t for t in left if t == word] or [
            t for t in left
            if (len(word) == 1 and t[0] == word) or (len(t) >= TYPO_MIN and _edit1(word, t))
        ]
        if fits:
            left.remove(fits[0])
        elif word not in TITLE_WORDS:
            return False
    return True


class SpeakerNames:
    """The speakers of a folder, and the ones a piece of text refers to.

    `names`: the speakers' names as `person` gives them. `texts`: what was said, to learn which
    surnames are also common words ("May", "Fast": written in lower case more often than
    capitalised); such a surname alone does not name the speaker, the first name must be there.

    Names are indexed by surname, by first name and surname (apart or glued) and by the whole
    name, so finding the speakers a question or a filter names costs time in the length of that
    text, not in the number of speakers (a transcript may have 20,000).
    """

    def __init__(self, names: Iterable[str], texts: Iterable[str] = ()):
        cases: Counter = Counter()
        for text in texts:
            for w in _WORD.findall(plain(text)):
                cases[(w.lower(), w[0].isupper())] += 1
        self.names = sorted({n for n in names if n})
        self._parts: dict[str, tuple[str, ...]] = {}
        self._whole: dict[str, list[str]] = defaultdict(list)  # "gabriel ste-marie"
        self._surname: dict[str, list[str]] = defaultdict(list)  # "ste-marie"
        self._pair: dict[tuple[str, str], list[str]] = defaultdict(list)  # ("gabriel", "ste-marie")
        self._glued: dict[str, list[str]] = defaultdict(list)  # "gabrielste-marie"
        self._titled: dict[str, list[str]] = defaultdict(list)  # "professor": "Professor B", …
        for name in self.names:
            tokens = tuple(_tokens(name))
            if not tokens:
                continue
            self._parts[name] = tokens
            self._whole[" ".join(tokens)].append(name)
            first, sur = tokens[0], tokens[-1]
            self._surname[sur].append(name)
            if first != sur:
                self._pair[(first, sur)].append(name)
                self._glued[first + sur].append(name)
            if len(tokens) == 2 and is_code(sur):
                self._titled[first].append(name)
        self._near = _NearWords(s for s in self._surname if len(s) >= TYPO_MIN)
        self._wordlike = {sur for sur in self._surname if cases[(sur, False)] > cases[(sur, True)]}

    def __len__(self) -> int:
        return len(self.names)

    def _surnames(self, word: str) -> set[str]:
        """The surnames `word` is: itself, or a long surname one letter off."""
        found = self._near.near(word)
        return found | {word} if word in self._surname else found

    def mentioned(self, text: str) -> set[str]:
        """The speakers a question names ("What did Ste-Marie say…", "Mr. Gabriel Ste-Marie's
        view", "What did PhD D say…"). A full-name match wins over others who only share the
        surname. A surname of one or two letters ("D" of `PhD D`) names someone only right after
        the rest of the name: a bare "a" or "I" names no one."""
        flat = plain(text)
        words = _WORD.findall(flat)
        capital = {bare(t) for t in words if t[0].isupper()}
        lowered = re.sub(r"[^\w\s'\-]", " ", flat.lower()).split()
        full: set[str] = set()  # "JustinTrudeau", "gabriel ste-marie": the whole name, any case
        for glued in {bare(t) for t in words}:
            full.update(self._glued.get(glued, ()))
        for pair in set(pairwise(bare(w) for w in lowered)):
            full.update(self._pair.get(pair, ()))
        apart: set[str] = set()  # first name and surname both in the question, not side by side
        surname_only: set[str] = set()
        for word in capital:
            for sur in self._surnames(word):
                for name in self._surname[sur]:
                    first = self._parts[name][0]
                    if first != sur and first in capital:
                        apart.add(name)
                    elif sur not in self._wordlike:
                        surname_only.add(name)
        full |= {n for n in apart if len(self._parts[n][-1]) >= 3}
        surname_only = {n for n in surname_only if len(self._parts[n][-1]) >= 3}
        if full:
            taken = {self._parts[n][-1] for n in full}
            return full | {n for n in surname_only if self._parts[n][-1] not in taken}
        return surname_only

    def titled(self, text: str) -> dict[str, set[str]]:
        """The speakers "the professor" may mean, by the title each has before a one-letter code
        (`Professor B`, `Professor E`): title -> those speakers, for each "the <title>" in the text."""
        lowered = [bare(w) for w in _WORD.findall(plain(text).lower())]
        return {
            title: set(self._titled[title])
            for the, title in pairwise(lowered) if the == "the" and title in self._titled
        }

    def resolve(self, written: str) -> set[str]:
        """The speakers a filter value means: the exact name, or the name a label written another
        way stands for (`Mr. Ste-Marie`, `Mr. Gabriel Ste-Marie (Joliette, BQ)`, `ste-marie`,
        `G. Ste-Marie`). Every word of the value must be a word of the speaker's name (its
        surname among them) or a title: `Ste-Marie Ste-Marie 0` names nobody."""
        if written in self._parts:
            return {written}
        name, _ = person(written)
        if exact := self._whole.get(" ".join(_tokens(name))):
            return set(exact)
        words = [bare(w) for w in _tokens(name)]
        said = [w for w in words if w not in TITLE_WORDS]
        if len(said) == 1 and said[0] in self._glued:
            return set(self._glued[said[0]])
        found: set[str] = set()
        for i, word in enumerate(words):
            rest = words[:i] + words[i + 1 :]
            alone = all(w in TITLE_WORDS for w in rest)
            for sur in self._surnames(word):
                if not alone or sur not in self._wordlike:  # "May" alone is a word, not a speaker
                    found.update(
                        n for n in self._surname[sur] if _accounted(rest, self._parts[n][:-1])
                    )
        return found
