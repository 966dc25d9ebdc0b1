"""Sync a folder of transcripts into the index, changing only what changed.

The Chroma collections are their own record of what is indexed: every chunk carries its
transcript id, source path and content hash, so a sync compares hashes and re-embeds only new
or changed chunks. Writes go sentences first, chunk records last: a chunk record with the right
hash is the commit marker of its piece, so a sync killed half-way is finished by the next run.
Until then the transcripts it left half-written are not whole (`ix.partial_transcripts`: a
piece missing, or pieces of two versions of the file), and the service neither lists them nor
answers from them.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from chromadb.api import ClientAPI

from ingest import store as ix
from ingest.chunk import CHUNKING_VERSION, Chunk, chunk_transcript
from ingest.embed import Embedder
from ingest.formats import PARSERS, parse_file
from ingest.metrics import record_sync
from ingest.parse import Transcript, TranscriptError
from ingest.settings import IndexSettings, IngestSettings

Progress = Callable[[str, int, int], None]  # (phase, done, total)
QUERY_BATCH = 500  # transcripts per query: one clause per transcript went past SQLite's limits


@dataclass
class TranscriptPlan:
    id: str
    source: str
    added: list[Chunk] = field(default_factory=list)
    updated: list[Chunk] = field(default_factory=list)
    unchanged: int = 0
    deleted: list[str] = field(default_factory=list)
    removed: bool = False  # the whole transcript is gone from the folder
    touched: list[Chunk] = field(default_factory=list)  # unchanged text, new file fingerprint
    dropped: list[str] = field(default_factory=list)  # what the parser left out (web-capture debris)

    @property
    def status(self) -> str:
        if self.removed:
            return "removed"
        if self.added and not (self.updated or self.unchanged or self.deleted):
            return "added"
        return "changed" if (self.added or self.updated or self.deleted) else "unchanged"


@dataclass
class SyncReport:
    transcripts: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    dropped_lines: int = 0
    skipped: list[dict] = field(default_factory=list)  # {"file": ..., "reason": ...}
    plans: list[TranscriptPlan] = field(default_factory=list)
    embedded: int = 0
    seconds: float = 0.0
    dry_run: bool = False

    def counts(self, root: Path | None = None) -> dict:
        """The counts and skipped files; with `root`, skipped files are named relative to it (or by
        their bare name), so an API answer shows no server paths."""
        skipped = self.skipped if root is None else [
            {**s, "file": relative_name(s["file"], root)} for s in self.skipped]
        return {
            "transcripts": self.transcripts,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "skipped": skipped,
        }

    def summary(self) -> str:
        verb = "would be" if self.dry_run else ""
        parts = [
            f"{self.transcripts} transcript{'s' if self.transcripts != 1 else ''}",
            (f"chunks {verb + ' ' if verb else ''}added {self.added}, updated {self.updated}, "
             f"unchanged {self.unchanged}, deleted {self.deleted}"),
            f"{self.dropped_lines} boilerplate lines dropped",
        ]
        if self.skipped:
            parts.append(f"{len(self.skipped)} file(s) skipped")
        parts.append(f"{self.seconds:.1f} s")
        return "; ".join(parts)


def relative_name(file: str, root: Path) -> str:
    """`file` relative to the folder `root` when it is inside it, else its bare name."""
    path, root = Path(file), Path(root).expanduser().resolve()
    return path.relative_to(root).as_posix() if path.is_absolute() and path.is_relative_to(root) else path.name


@dataclass
class Source:
    path: Path
    transcript_id: str
    root: Path | None  # the folder it was found in, if any


def discover(paths: Iterable[Path], report: SyncReport) -> tuple[list[Source], list[Path]]:
    """Transcript files under the given paths, and the folders whose removals count."""
    sources: list[Source] = []
    roots: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser().resolve()
        if path.is_dir():
            roots.append(path)
            for f in sorted(p for p in path.rglob("*") if p.is_file()):
                rel = f.relative_to(path)
                if any(part.startswith(".") for part in rel.parts):
                    continue
                if f.suffix.lower() not in PARSERS:
                    report.skipped.append(
                        {"file": str(f), "reason": f"unsupported format '{f.suffix or '(none)'}' "
                         f"(supported: {', '.join(sorted(PARSERS))})"}
                    )
                    continue
                sources.append(Source(f, rel.with_suffix("").as_posix(), path))
        elif path.is_file():
            sources.append(Source(path, path.stem, None))
        else:
            report.skipped.append({"file": str(raw), "reason": "no such file or folder"})
    return sources, roots


class Indexed:
    """What the chunk collection holds, read as little as a no-change sync needs, in calls of a
    bounded size (linear in the index, whatever its size): every chunk id by transcript, one record
    per transcript, and which chunks carry their file's fingerprint. A transcript's full metadata is
    read only when its file changed."""

    def __init__(self, collection):
        self.collection = collection
        self.ids: dict[str, list[str]] = {}
        for got in ix.read_pages(collection, []):
            for cid in got["ids"]:
                self.ids.setdefault(ix.transcript_of(cid), []).append(cid)
        self.head: dict[str, dict] = {}
        for firsts in _batches([ids[0] for ids in self.ids.values()], ix.PAGE):
            got = collection.get(ids=firsts, include=["metadatas"])
            self.head.update((ix.transcript_of(cid), meta) for cid, meta in zip(got["ids"], got["metadatas"]))

    def current(self, fingerprints: dict[str, str]) -> set[str]:
        """The transcripts (of those given, with their file's fingerprint) whose every chunk has
        that fingerprint and whose chunk count is the one their last sync wrote.

        Asked `QUERY_BATCH` transcripts at a time: which chunks of these transcripts carry one of
        their fingerprints. A fingerprint names its transcript (`file_fingerprint`), so a chunk can
        only match its own transcript's."""
        wanted = {t: fp for t, fp in fingerprints.items()
                  if self.head.get(t, {}).get(ix.K_FILE) == fp and self.head[t].get(ix.K_NCHUNKS) == len(self.ids[t])}
        count: Counter[str] = Counter()
        for batch in _batches(list(wanted), QUERY_BATCH):
            where = {"$and": [{ix.K_TRANSCRIPT: {"$in": batch}}, {ix.K_FILE: {"$in": [wanted[t] for t in batch]}}]}
            count.update(ix.transcript_of(cid) for cid in self.collection.get(where=where, include=[])["ids"])
        return {t for t in wanted if count[t] == len(self.ids[t])}

    def chunks(self, transcript: str) -> dict[str, dict]:
        """id -> metadata of every chunk of one transcript."""
        ids = self.ids.get(transcript, [])
        got = self.collection.get(ids=ids, include=["metadatas"]) if ids else {"ids": [], "metadatas": []}
        return dict(zip(got["ids"], got["metadatas"]))


def _batches(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def file_fingerprint(data: bytes, settings: IngestSettings, transcript_id: str) -> str:
    """Identifies one transcript's file bytes under the current chunking: equal means nothing to
    re-parse. The transcript id is part of it: two transcripts never share one, even as copies."""
    return hashlib.sha256(
        data + f"|{settings.chunk_max_chars}|{CHUNKING_VERSION}|{transcript_id}".encode()).hexdigest()


def plan_sync(
    paths: Iterable[Path], settings: IngestSettings, chunks_collection, progress: Progress | None = None
) -> SyncReport:
    """Parse and chunk every transcript and compare with the index; writes nothing."""
    report = SyncReport()
    sources, roots = discover(paths, report)
    indexed = Indexed(chunks_collection)
    fingerprints: dict[Path, str | OSError] = {}
    for src in sources:
        try:
            fingerprints[src.path] = file_fingerprint(src.path.read_bytes(), settings, src.transcript_id)
        except OSError as exc:
            fingerprints[src.path] = exc
    # Same bytes, same chunking, every piece written (a sync killed half-way left some stale or
    # missing): nothing to parse, embed or write.
    current = indexed.current({s.transcript_id: fp for s in sources
                               if isinstance(fp := fingerprints[s.path], str) and s.transcript_id in indexed.ids})
    seen: set[str] = set()
    for i, src in enumerate(sources):
        if progress:
            progress("parse", i, len(sources))
        try:
            fingerprint = fingerprints[src.path]
            if isinstance(fingerprint, OSError):
                raise fingerprint
            if src.transcript_id not in seen and src.transcript_id in current:
                seen.add(src.transcript_id)
                report.transcripts += 1
                report.dropped_lines += int(indexed.head[src.transcript_id].get(ix.K_DROPPED, 0))
                report.plans.append(TranscriptPlan(src.transcript_id, str(src.path),
                                                   unchanged=len(indexed.ids[src.transcript_id])))
                continue
            transcript: Transcript = parse_file(src.path, src.transcript_id)
        except TranscriptError as exc:
            report.skipped.append({"file": str(src.path), "reason": str(exc)})
            seen.add(src.transcript_id)  # a broken file keeps its old chunks until it is fixed
            continue
        except OSError as exc:
            report.skipped.append({"file": str(src.path), "reason": f"cannot be read: {exc.strerror}"})
            seen.add(src.transcript_id)
            continue
        if src.transcript_id in seen:
            report.skipped.append(
                {"file": str(src.path), "reason": f"another file already has the id '{src.transcript_id}'"}
            )
            continue
        seen.add(src.transcript_id)
        report.transcripts += 1
        old = indexed.chunks(src.transcript_id)
        dropped = sum(len(d.splitlines()) for d in transcript.dropped)
        report.dropped_lines += dropped
        chunks = chunk_transcript(transcript, settings.chunk_max_chars, str(src.path))
        plan = TranscriptPlan(src.transcript_id, str(src.path), dropped=list(transcript.dropped))
        ingested_at = int(time.time())
        for c in chunks:
            # Outside the content hash: a change elsewhere in the file does not re-embed this piece.
            c.metadata[ix.K_FILE] = fingerprint
            c.metadata[ix.K_DROPPED] = dropped
            c.metadata[ix.K_NCHUNKS] = len(chunks)
            c.metadata[ix.K_INGESTED] = ingested_at
            prev = old.get(c.id)
            if prev is None:
                plan.added.append(c)
            elif prev.get(ix.K_HASH) != c.metadata[ix.K_HASH]:
                plan.updated.append(c)
            else:
                plan.unchanged += 1
                if any(prev.get(k) != c.metadata[k] for k in (ix.K_FILE, ix.K_DROPPED, ix.K_NCHUNKS, ix.K_INGESTED)):
                    plan.touched.append(c)
        new_ids = {c.id for c in chunks}
        plan.deleted = sorted(cid for cid in old if cid not in new_ids)
        report.plans.append(plan)
    if progress:
        progress("parse", len(sources), len(sources))
    # Transcripts indexed from a synced folder whose file is gone: delete all their chunks.
    for tid, ids in sorted(indexed.ids.items()):
        if tid in seen:
            continue
        source = Path(indexed.head.get(tid, {}).get(ix.K_SOURCE, ""))
        if any(source.is_relative_to(root) for root in roots) and not source.exists():
            report.plans.append(TranscriptPlan(tid, str(source), deleted=sorted(ids), removed=True))
    for plan in report.plans:
        report.added += len(plan.added)
        report.updated += len(plan.updated)
        report.unchanged += plan.unchanged
        report.deleted += len(plan.deleted)
    return report


def apply_plan(
    report: SyncReport,
    embedder: Embedder,
    client: ClientAPI,
    settings: IngestSettings,
    generation: int,
    progress: Progress | None = None,
) -> None:
    """Embed and write what the plan says, sentences before their chunk record.

    Chunks are embedded in order of length (less padding per model batch) and each step's
    writes run on a background thread while the next step is encoded: the model, not Chroma,
    sets the pace. One write is in flight at a time: a killed run leaves at most two steps for
    the next run to redo. A write that fails raises `ix.WriteFailed`.
    """
    with ix.writing():
        chunks_coll = ix.open_collection(client, settings, ix.CHUNK_SUFFIX, generation)
        sent_coll = ix.open_collection(client, settings, ix.SENTENCE_SUFFIX, generation)
    batch = min(client.get_max_batch_size(), settings.write_batch_size)
    todo = sorted((c for p in report.plans for c in (*p.added, *p.updated)), key=lambda c: len(c.embed_text))
    total = len(todo)
    done = 0

    def write(group: list[Chunk], chunk_vecs, sent_ids, sent_vecs, sent_docs, sent_meta) -> None:
        # A changed piece may have fewer sentences now, and a killed run may have left some:
        # clear them first. The chunk record is written last, so a kill here is redone next run.
        with ix.writing():
            sent_coll.delete(where={ix.K_CHUNK: {"$in": [c.id for c in group]}})
            for lo in range(0, len(sent_ids), batch):
                hi = lo + batch
                sent_coll.upsert(
                    ids=sent_ids[lo:hi],
                    embeddings=sent_vecs[lo:hi],
                    documents=sent_docs[lo:hi],
                    metadatas=sent_meta[lo:hi],
                )
            chunks_coll.upsert(
                ids=[c.id for c in group],
                embeddings=chunk_vecs,
                documents=[c.text for c in group],
                metadatas=[c.metadata for c in group],
            )

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-write") as writer:
        pending: tuple[Future, int] | None = None  # the write in flight, and its chunk count
        try:
            for group in _batches(todo, batch):
                if progress:
                    progress("embed", done, total)
                sent_ids, sent_docs, sent_meta = [], [], []
                for c in group:
                    for j, s in enumerate(c.sentences):
                        sent_ids.append(ix.sentence_id(c.id, j))
                        sent_docs.append(s.text)
                        sent_meta.append({ix.K_CHUNK: c.id, ix.K_TRANSCRIPT: c.metadata[ix.K_TRANSCRIPT],
                                          ix.K_SENT: j, ix.K_START: s.start, ix.K_END: s.end})
                # One forward pass gives the chunk vectors and (late-chunked) their sentences' vectors.
                before = embedder.encoded
                chunk_vecs, per_chunk = embedder.encode_pieces(
                    [c.embed_text for c in group], [c.sentence_spans for c in group])
                sent_vecs = [v for vecs in per_chunk for v in vecs]
                report.embedded += embedder.encoded - before
                if pending:
                    pending[0].result()  # the step before is written (or its error is raised here)
                    done += pending[1]
                pending = writer.submit(write, group, chunk_vecs, sent_ids, sent_vecs, sent_docs, sent_meta), len(group)
            if pending:
                pending[0].result()
                done += pending[1]
                pending = None
        finally:
            if pending:  # an encode failed: let the write in flight finish rather than cut it
                pending[0].exception()
    if progress:
        progress("embed", total, total)
    touched = [c for p in report.plans for c in p.touched]
    doomed = [cid for p in report.plans for cid in p.deleted]
    with ix.writing():
        for group in _batches(touched, batch):
            chunks_coll.update(ids=[c.id for c in group], metadatas=[c.metadata for c in group])
        for ids in _batches(doomed, batch):
            chunks_coll.delete(ids=ids)
            sent_coll.delete(where={ix.K_CHUNK: {"$in": ids}})



def sync_paths(
    paths: Iterable[Path],
    settings: IngestSettings,
    embedder: Embedder,
    client: ClientAPI,
    dry_run: bool = False,
    progress: Progress | None = None,
    generation: int | None = None,
) -> SyncReport:
    """Bring the index in line with the transcripts under `paths`; `dry_run` only plans.

    Syncs the live generation unless `generation` names another (a rebuild's). A sync that
    wrote anything bumps the index version, which tells service workers to reload. A failed
    write raises `ix.WriteFailed`; a failed read (planning) raises Chroma's error and wrote nothing.
    """
    started = time.perf_counter()
    state = ix.read_state(client, settings)
    live = generation is None
    if live:
        ix.check_model(state, settings, ix.store_label(settings))
    gen = state.generation if live else generation
    chunks_coll = ix.open_collection(client, settings, ix.CHUNK_SUFFIX, gen)
    report = plan_sync(paths, settings, chunks_coll, progress)
    report.dry_run = dry_run
    if not dry_run:
        apply_plan(report, embedder, client, settings, gen, progress)
        changed = report.added or report.updated or report.deleted
        if live and (changed or state.embedding_model != settings.embedding_model):
            with ix.writing():
                ix.write_state(client, settings, ix.IndexState(gen, ix.next_version(state), settings.embedding_model))
    report.seconds = time.perf_counter() - started
    record_sync(report)  # Prometheus counters (served by /metrics when the service ingests)
    return report


class RebuildFailed(RuntimeError):
    pass


PROBE_TIE = 1e-4  # cosine distances this close count as a tie (identical texts, float noise)


def rebuild(
    paths: Iterable[Path],
    settings: IngestSettings,
    embedder: Embedder,
    client: ClientAPI,
    progress: Progress | None = None,
    grace_seconds: float = 2.0,
) -> SyncReport:
    """Build the next generation beside the live one, check it, switch to it, drop the old one.

    Until the switch (one write of the state record) the live generation serves untouched; a
    failed or killed rebuild leaves only an unused generation, dropped by the next rebuild.
    """
    started = time.perf_counter()
    state = ix.read_state(client, settings)
    new = state.generation + 1
    with ix.writing():
        ix.drop_generation(client, settings, new)  # leftovers of an interrupted rebuild
    paths = list(paths)
    report = sync_paths(paths, settings, embedder, client, progress=progress, generation=new)
    try:
        verify_generation(report, settings, embedder, client, new)
    except RebuildFailed:
        with ix.writing():
            ix.drop_generation(client, settings, new)
        raise
    with ix.writing():
        ix.write_state(client, settings, ix.IndexState(new, ix.next_version(state), settings.embedding_model))
    time.sleep(grace_seconds)  # requests that started on the old generation finish on it
    with ix.writing():
        ix.drop_generation(client, settings, state.generation)
    report.seconds = time.perf_counter() - started
    return report


def verify_generation(report: SyncReport, settings: IndexSettings, embedder, client, generation: int) -> None:
    """A new generation must hold every planned chunk and find a known chunk by its question."""
    chunks = ix.open_collection(client, settings, ix.CHUNK_SUFFIX, generation)
    count = chunks.count()
    if report.transcripts == 0:
        raise RebuildFailed("there are no transcripts to rebuild from (none found, or every file was "
                            "skipped); the live index was left as it was")
    if count != report.added:
        raise RebuildFailed(
            f"the new index generation holds {count} chunks, expected {report.added} "
            f"from {report.transcripts} transcripts; the live index was left as it was"
        )
    probe = next(c for p in report.plans for c in p.added)
    vector = embedder.encode([probe.embed_text])
    found = chunks.query(query_embeddings=vector, n_results=min(10, count), include=["distances"])
    if probe.id in found["ids"][0]:
        return
    # Copies of one transcript under several names have identical vectors that tie at the best
    # distance, and a query returns only some of them: then the probe's own record must be in the
    # index and as close to the question as the best hit.
    own = chunks.query(query_embeddings=vector, ids=[probe.id], n_results=1, include=["distances"])
    best = found["distances"][0][0] if found["distances"][0] else None
    if own["ids"][0] == [probe.id] and best is not None and own["distances"][0][0] <= best + PROBE_TIE:
        return
    raise RebuildFailed("the probe query did not find its own chunk in the new generation; "
                        "the live index was left as it was")
