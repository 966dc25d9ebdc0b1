"""The part of the index a question is answered from: `Scope` (some transcripts, some speakers), and
`resolve_scope`, which turns a request's `filters` into a Scope or says which values name nothing.

Transcript ids match exactly (`GET /v1/transcripts` lists them). Speakers match the way people
write them (ingest/speakers.py `SpeakerNames.resolve`: "Ste-Marie", "Mr. Ste-Marie" and
"Mr. Gabriel Ste-Marie (Joliette, BQ)" all name Gabriel Ste-Marie; every word of a value must be
a word of that one speaker's name or a title, so "Ste-Marie Ste-Marie 0" names no one), or by a
speaker label exactly as a transcript writes it ("The Chair"). A value that names nothing, or a
speaker who never speaks in the chosen transcripts, is a `FilterError` (422) that names the
values, raised before any retrieval. Values within one list are alternatives; the two lists
together must both hold.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from ingest import store as ix
from service.rag.errors import FilterError
from service.rag.per_snapshot import PerSnapshot

LIST_HINT = "GET /v1/transcripts lists every transcript id with its speakers"
SHOWN = 10  # values named in one error message (then "and N more")


@dataclass(frozen=True)
class Scope:
    """Chunks of these transcripts (ids) and these speakers (canonical names, as K_SPEAKER stores
    them); None: no limit of that kind."""

    transcripts: frozenset[str] | None = None
    speakers: frozenset[str] | None = None

    def allows(self, meta: dict) -> bool:
        """Whether a chunk with this metadata is in scope."""
        if self.transcripts is not None and meta.get(ix.K_TRANSCRIPT) not in self.transcripts:
            return False
        return self.speakers is None or meta.get(ix.K_SPEAKER) in self.speakers

    def where(self) -> dict | None:
        """The Chroma `where` clause on chunk metadata for this scope (None: no limit)."""
        clauses = []
        if self.transcripts is not None:
            clauses.append({ix.K_TRANSCRIPT: {"$in": sorted(self.transcripts)}})
        if self.speakers is not None:
            clauses.append({ix.K_SPEAKER: {"$in": sorted(self.speakers)}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}


@dataclass(frozen=True)
class _Known:
    """What a snapshot holds that filters may name."""

    transcripts: frozenset[str]
    speakers_in: dict[str, frozenset[str]]  # transcript id -> the speakers of its turns
    labels: dict[str, frozenset[str]]  # speaker label as written (folded) -> speaker names


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def _known(snapshot) -> _Known:
    speakers_in: dict[str, set[str]] = defaultdict(set)
    labels: dict[str, set[str]] = defaultdict(set)
    for _, meta in snapshot.docs.values():
        tid, name = meta.get(ix.K_TRANSCRIPT, ""), meta.get(ix.K_SPEAKER, "")
        speakers_in[tid]  # a transcript with only its intro still exists
        if name:
            speakers_in[tid].add(name)
            if label := meta.get(ix.K_LABEL, ""):
                labels[_fold(label)].add(name)
    return _Known(
        frozenset(speakers_in),
        {t: frozenset(names) for t, names in speakers_in.items()},
        {label: frozenset(names) for label, names in labels.items()},
    )


_KNOWN = PerSnapshot(_known)


def speakers_in(scope: Scope, snapshot) -> frozenset[str]:
    """The speakers who have a turn in the scope (its speakers, where it names some, who speak in
    its transcripts)."""
    known = _KNOWN.get(snapshot)
    transcripts = known.transcripts if scope.transcripts is None else scope.transcripts
    present = frozenset().union(*(known.speakers_in.get(t, frozenset()) for t in transcripts))
    return present if scope.speakers is None else present & scope.speakers


def _distinct(values: Iterable[str] | None) -> list[str]:
    return list(dict.fromkeys(v.strip() for v in values or () if v.strip()))


def _quoted(values: list[str], note: dict[str, str] | None = None) -> str:
    """'a', 'b' (a note after a value if given) … and N more."""
    note = note or {}
    shown = ", ".join(
        f"'{v[:100]}'" + (f" ({note[v]})" if note.get(v) else "") for v in values[:SHOWN]
    )
    return shown + (f" and {len(values) - SHOWN} more" if len(values) > SHOWN else "")


def _meant(written: str, snapshot, known: _Known) -> frozenset[str]:
    """The speakers a filter value names: by name as people write it, else by a label as written."""
    names = snapshot.speakers.resolve(written)
    return frozenset(names) or known.labels.get(_fold(written), frozenset())


def resolve_scope(filters, snapshot) -> Scope | None:
    """The Scope of a request's `filters` (an object with `transcripts` and `speakers` lists) in
    this snapshot (`docs`, and `speakers`: its SpeakerNames); None when they limit nothing.

    FilterError (422) names every transcript id or speaker that is not in the index, and every
    speaker who never speaks in the chosen transcripts.
    """
    if filters is None:
        return None
    wanted_transcripts = _distinct(filters.transcripts)
    wanted_speakers = _distinct(filters.speakers)
    if not wanted_transcripts and not wanted_speakers:
        return None
    known = _KNOWN.get(snapshot)
    problems: list[str] = []
    transcripts = speakers = None
    if wanted_transcripts:
        unknown = [t for t in wanted_transcripts if t not in known.transcripts]
        if unknown:
            near = [
                m
                for t in unknown[:SHOWN]
                for m in difflib.get_close_matches(t, known.transcripts, 1, 0.75)
            ]
            problems.append(
                f"filters.transcripts: no transcript in the index has the id {_quoted(unknown)}"
                + (f" (did you mean {_quoted(list(dict.fromkeys(near)))}?)" if near else "")
            )
        transcripts = frozenset(wanted_transcripts)
    if wanted_speakers:
        meant = {w: _meant(w, snapshot, known) for w in wanted_speakers}
        unknown = [w for w, names in meant.items() if not names]
        if unknown:
            problems.append(
                f"filters.speakers: no speaker in the index is called {_quoted(unknown)}"
            )
        elif transcripts is not None and not problems:
            present = frozenset().union(*(known.speakers_in[t] for t in transcripts))
            absent = [w for w, names in meant.items() if not names & present]
            if absent:
                names = {w: ", ".join(sorted(meant[w])) for w in absent if meant[w] != {w}}
                problems.append(
                    f"filters.speakers: {_quoted(absent, names)} never speak{'s' if len(absent) == 1 else ''} "
                    f"in the transcript{'s' if len(transcripts) > 1 else ''} "
                    f"{_quoted(wanted_transcripts)}"
                )
            meant = {w: names & present for w, names in meant.items()}
        speakers = frozenset().union(*meant.values())
    if problems:
        raise FilterError("; ".join(problems) + f". {LIST_HINT}.")
    return Scope(transcripts, speakers)
