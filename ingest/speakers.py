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
from collections import Counter
from collections.abc import Iterable

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
_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")


def plain(text: str) -> str:
    """Accents removed (Ste-Marie and Sté-Marie are one name to a reader)."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


POST_NOMINALS = {"am", "mp", "mla", "msp", "td", "ms", "mpp", "mna", "qc", "kc", "obe", "mbe", "cbe", "phd"}


def clean_name(text: str) -> str:
    """A name without leading honorifics, parentheses or trailing post-nominals: `Hon. Bill
    Morneau` -> `Bill Morneau`, `Kirsty Williams AM` -> `Kirsty Williams`; a title word inside
    a name stays (`Amartya Sen`, `Sacha Baron Cohen`, `Jo Lord`)."""
    text = re.sub(r"\([^()]*(?:\([^()]*\)[^()]*)*\)", " ", text)
    tokens = text.replace(".", ". ").split()
    key = [t.lower().strip(".,") for t in tokens]
    start, end = 0, len(tokens)
    while start < end - 1 and key[start] in HONORIFICS:
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


class SpeakerNames:
    """The speakers of a folder, and the ones a piece of text refers to.

    `names`: the speakers' names as `person` gives them. `texts`: what was said, to learn which
    surnames are also common words ("May", "Fast": written in lower case more often than
    capitalised); such a surname alone does not name the speaker, the first name must be there.
    """

    def __init__(self, names: Iterable[str], texts: Iterable[str] = ()):
        cases: Counter = Counter()
        for text in texts:
            for w in _WORD.findall(plain(text)):
                cases[(w.lower(), w[0].isupper())] += 1
        self.names = sorted({n for n in names if n})
        self._parts: dict[str, tuple[str, str]] = {}
        for name in self.names:
            tokens = [t.lower() for t in _WORD.findall(plain(name))]
            if tokens:
                self._parts[name] = (tokens[0], tokens[-1])
        self._wordlike = {
            sur for _, sur in self._parts.values() if cases[(sur, False)] > cases[(sur, True)]
        }

    def __len__(self) -> int:
        return len(self.names)

    def mentioned(self, text: str) -> set[str]:
        """The speakers a question names ("What did Ste-Marie say…", "Mr. Gabriel Ste-Marie's
        view"). A full-name match wins over others who only share the surname."""
        flat = plain(text)
        capital = [
            re.sub(r"'s?$", "", t.lower()) for t in _WORD.findall(flat) if t[0].isupper()
        ]
        glued = {re.sub(r"'s?$", "", t.lower()) for t in re.findall(r"[A-Za-z][A-Za-z'\-]*", flat)}
        lowered = " ".join(re.sub(r"[^\w\s'\-]", " ", flat.lower()).split())
        full: set[str] = set()
        surname_only: set[str] = set()
        for name, (first, sur) in self._parts.items():
            if len(sur) < 3:
                continue
            if first != sur and ((first + sur) in glued or f" {first} {sur} " in f" {lowered} "):
                full.add(name)  # "JustinTrudeau", "gabriel ste-marie": the whole name, any case
                continue
            if not any(c == sur or (len(sur) >= 6 and _edit1(c, sur)) for c in capital):
                continue
            has_first = first in capital or f"{first} {sur}" in lowered
            if has_first and first != sur:
                full.add(name)
            elif sur not in self._wordlike:
                surname_only.add(name)
        if full:
            taken = {self._parts[n][1] for n in full}
            return full | {n for n in surname_only if self._parts[n][1] not in taken}
        return surname_only

    def resolve(self, written: str) -> set[str]:
        """The speakers a filter value means: the exact name, or the name a label written another
        way stands for (`Mr. Ste-Marie`, `Mr. Gabriel Ste-Marie (Joliette, BQ)`, `ste-marie`)."""
        if written in self._parts:
            return {written}
        name, _ = person(written)
        key = " ".join(_WORD.findall(plain(name).lower()))
        exact = {n for n in self.names if " ".join(_WORD.findall(plain(n).lower())) == key}
        if exact:
            return exact
        return self.mentioned(" ".join(w[:1].upper() + w[1:] for w in name.split()))
