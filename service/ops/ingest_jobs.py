"""Re-ingest through the service: one job at a time, progress readable by job id."""

from __future__ import annotations

import errno
import logging
import os
import re
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ingest.formats import PARSERS, parse_file
from ingest.parse import TranscriptError
from ingest.store import ModelMismatch
from ingest.sync import RebuildFailed, SyncReport, rebuild, sync_paths
from service.edge.request_log import log_json
from service.rag.retrieve import Retriever
from service.settings import ServiceSettings


class IngestBusy(RuntimeError):
    def __init__(self, job: Job):
        self.job = job
        super().__init__(
            f"another ingest is running (job {job.id}, {job.kind}, requested by {job.requested_by}, "
            f"started {time.strftime('%H:%M:%S', time.localtime(job.started))}); try again when it is done"
        )


class UploadRejected(ValueError):
    def __init__(self, status: int, detail: str):
        self.status = status
        super().__init__(detail)


@dataclass
class Job:
    id: str
    kind: str
    requested_by: str
    started: float = field(default_factory=time.time)
    status: str = "running"  # running | done | failed
    phase: str = "queued"
    done: int = 0
    total: int = 0
    finished: float | None = None
    result: dict | None = None
    error: str | None = None

    def view(self) -> dict:
        return asdict(self)


class IngestManager:
    """Runs syncs and rebuilds for the service and swaps the retriever onto the result."""

    def __init__(self, settings: ServiceSettings, retriever: Retriever):
        self.settings = settings
        self.retriever = retriever
        self._lock = threading.Lock()
        self.current: Job | None = None
        self.jobs: dict[str, Job] = {}

    def run(self, kind: str, requested_by: str, paths: list[Path] | None = None,
            prepare: Callable[[], StoredUpload] | None = None) -> tuple[Job, SyncReport | None]:
        """Run one ingest now (in the calling thread); raise IngestBusy if one is running.

        `prepare` runs under the same claim before the sync (an upload stores its files there), so
        a request refused with IngestBusy has changed nothing; its result joins the job's. If the
        sync fails, what it stored is taken out again: a failed upload leaves no file behind.
        """
        if not self._lock.acquire(blocking=False):
            raise IngestBusy(self.current)
        job = Job(uuid.uuid4().hex[:12], kind, requested_by)
        self.current = job
        self.jobs[job.id] = job
        while len(self.jobs) > 100:
            self.jobs.pop(next(iter(self.jobs)))
        report = None
        try:
            def progress(phase: str, done: int, total: int) -> None:
                job.phase, job.done, job.total = phase, done, total

            upload = None
            if prepare:
                job.phase = "store"
                upload = prepare()
            try:
                report = self._ingest(kind, paths or [self.settings.transcripts_dir], progress)
            except BaseException:
                if upload:
                    upload.undo()
                raise
            if upload:
                upload.keep()
            self.retriever.refresh()
            job.status = "done"
            job.result = {**report.counts(self.settings.transcripts_dir), "seconds": round(report.seconds, 3),
                          **(upload.result if upload else {})}
        except Exception as exc:
            # The job view is an API answer: only messages written for people go out as they are;
            # anything else (it may carry paths or library internals) is logged, and named.
            public = isinstance(exc, ModelMismatch | RebuildFailed | TranscriptError | UploadRejected)
            job.status = "failed"
            job.error = str(exc) if public else (
                f"{type(exc).__name__}: the ingest failed; the details are in the service log under job {job.id}")
            if not public:
                log_json(logging.ERROR, event="ingest_error", job=job.id, error=type(exc).__name__,
                         traceback="".join(traceback.format_exception(exc, limit=20)))
            raise
        finally:
            job.phase, job.finished = "finished", time.time()
            self.current = None
            self._lock.release()
        return job, report

    def _ingest(self, kind: str, paths: list[Path], progress) -> SyncReport:
        r = self.retriever
        if kind == "rebuild":
            return rebuild(paths, self.settings, r.embedder, r.client, progress, self.settings.rebuild_grace_seconds)
        return sync_paths(paths, self.settings, r.embedder, r.client, progress=progress)


MAX_NAME_BYTES = 255  # NAME_MAX of Linux file systems: a longer name cannot be created
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _shown(name: str) -> str:
    """A file name fit for a message: invalid text and control characters escaped, long names cut."""
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", name.encode("utf-8", "backslashreplace").decode())
    return text if len(text) <= 60 else f"{text[:40]}…{text[-12:]}"


def check_upload(settings: ServiceSettings, files: list[tuple[str, bytes]]) -> list[str]:
    """The file name of every upload, each checked before anything is written (name, format, size,
    one transcript id per upload); UploadRejected naming the first bad one."""
    names: list[str] = []
    ids: dict[str, str] = {}
    for i, (raw_name, data) in enumerate(files):
        name = Path(raw_name or "").name
        label = f"files[{i}] '{_shown(raw_name)}'"
        if not name or name.startswith("."):
            raise UploadRejected(422, f"{label}: a transcript needs a file name such as interview.txt")
        if bad := _CONTROL.search(name):
            raise UploadRejected(422, f"{label}: the file name contains the control character "
                                      f"U+{ord(bad.group()):04X}; rename the file. Nothing was stored.")
        try:
            size = len(name.encode("utf-8"))
        except UnicodeEncodeError:
            raise UploadRejected(422, f"{label}: the file name is not valid Unicode text; rename the file. "
                                      "Nothing was stored.") from None
        if size > MAX_NAME_BYTES:
            raise UploadRejected(422, f"{label}: the file name is {size} bytes long (UTF-8); the limit is "
                                      f"{MAX_NAME_BYTES}. Rename the file. Nothing was stored.")
        suffix = Path(name).suffix.lower()
        if suffix not in PARSERS:
            raise UploadRejected(415, f"'{_shown(name)}': unsupported format '{Path(name).suffix or '(none)'}' "
                                      f"(supported: {', '.join(sorted(PARSERS))})")
        if len(data) > settings.max_upload_bytes:
            raise UploadRejected(413, f"'{_shown(name)}' is {len(data):,} bytes; the limit is "
                                      f"{settings.max_upload_bytes:,} bytes per file")
        stem = Path(name).stem
        if stem in ids:
            raise UploadRejected(422, f"'{_shown(ids[stem])}' and '{_shown(name)}' would both be the transcript "
                                      f"'{_shown(stem)}' (ids come from the file name without its extension); "
                                      "send one of them. Nothing was stored.")
        ids[stem] = name
        names.append(name)
    return names


def _replaced(folder: Path, name: str, replace: bool) -> list[Path]:
    """Files in the folder that storing `name` replaces: with `replace`, its own earlier version and
    any other transcript file with the same id; without it either is a 409 naming the file."""
    stem = Path(name).stem
    own = folder / name
    same_id = sorted(p for p in folder.iterdir() if p.name != name and p.stem == stem
                     and p.suffix.lower() in PARSERS and p.is_file())
    if not replace and own.is_file():
        raise UploadRejected(409, f"'{_shown(name)}' is already in the folder. Nothing was stored. Rename the "
                                  f"file, or upload it with ?replace=true to replace '{_shown(name)}'.")
    if same_id and not replace:
        other = same_id[0].name
        raise UploadRejected(409, f"'{_shown(name)}' would replace '{_shown(other)}', which is already in the "
                                  f"folder: both are the transcript '{_shown(stem)}' (ids come from the file name "
                                  f"without its extension). Nothing was stored. Rename the file, or upload it "
                                  f"with ?replace=true to replace '{_shown(other)}'.")
    return ([own] if own.is_file() else []) + same_id


@dataclass
class StoredUpload:
    """An upload moved into the transcripts folder, kept only if the sync after it succeeds.

    The files it replaced wait in the staging folder until then: `keep` drops them; `undo` takes
    the upload's files out and puts them back, so a failed upload leaves the folder as it was.
    """

    staging: Path
    outcome: list[dict]  # per file: stored, or replaced (naming what it replaced)
    placed: list[Path] = field(default_factory=list)
    backups: list[tuple[Path, Path]] = field(default_factory=list)  # (backup, the file it was)

    @property
    def result(self) -> dict:
        return {"files": self.outcome, "stored": [f["file"] for f in self.outcome]}

    def keep(self) -> None:
        for backup, _ in self.backups:
            backup.unlink(missing_ok=True)
        self.placed, self.backups = [], []
        _remove_if_empty(self.staging)

    def undo(self) -> None:
        for path in self.placed:
            path.unlink(missing_ok=True)
        for backup, path in reversed(self.backups):
            os.replace(backup, path)
        self.placed, self.backups = [], []
        _remove_if_empty(self.staging)


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # something is in it: backups still needed, or one a crash left behind


def store_uploads(settings: ServiceSettings, files: list[tuple[str, bytes]], replace: bool = False) -> StoredUpload:
    """Check every uploaded transcript, then move them into the folder: all or nothing.

    The result says what happened to each file: `stored` (new) or `replaced` (naming the files it
    replaced: its own earlier version, or with `replace` another file of the same transcript id).
    """
    names = check_upload(settings, files)
    folder = settings.transcripts_dir
    folder.mkdir(parents=True, exist_ok=True)
    doomed = [_replaced(folder, name, replace) for name in names]
    staging = folder / ".staging"  # hidden: a sync never reads it
    staging.mkdir(exist_ok=True)
    upload = StoredUpload(staging, [{"file": name, "status": "replaced", "replaces": [p.name for p in old]}
                                    if old else {"file": name, "status": "stored"}
                                    for name, old in zip(names, doomed)])
    staged: list[Path] = []
    name = ""  # the file being written, for the message if the disk refuses
    try:
        for name, (_, data) in zip(names, files):
            tmp = staging / f"{uuid.uuid4().hex}{Path(name).suffix.lower()}"
            staged.append(tmp)
            tmp.write_bytes(data)
            try:
                parse_file(tmp, Path(name).stem)
            except TranscriptError as exc:
                raise UploadRejected(422, f"'{_shown(name)}' was not stored: {exc}") from None
        try:
            for name, tmp, old in zip(names, staged, doomed):
                for path in old:
                    backup = staging / f"{uuid.uuid4().hex}.replaced"
                    os.replace(path, backup)
                    upload.backups.append((backup, path))
                os.replace(tmp, folder / name)
                upload.placed.append(folder / name)
        except BaseException:
            upload.undo()  # the folder is as it was before the upload
            raise
    except OSError as exc:
        where = f"'{_shown(name)}'" if name else "the upload"
        raise UploadRejected(507 if exc.errno == errno.ENOSPC else 500,
                             f"{where} could not be stored in the transcripts folder "
                             f"({exc.strerror or type(exc).__name__}); nothing was stored") from None
    finally:
        for tmp in staged:
            tmp.unlink(missing_ok=True)
        _remove_if_empty(staging)  # kept while it holds the replaced files
    return upload


def preview_uploads(settings: ServiceSettings, files: list[tuple[str, bytes]], replace: bool = False) -> list[dict]:
    """What uploading `files` would do to each, before anything is written (the page shows it):
    `new`; `updated` (with `replace`: naming the files it replaces); `exists` (without `replace`:
    the upload would be refused with 409, as the folder holds a file of that transcript, named in
    `replaces`); `unchanged` (the folder holds the same bytes: nothing to upload); or `refused`
    with the reason and `code`, the status the upload would get. A file that would be stored says
    its title and how many turns and speakers it parses into. Each file is judged on its own (the
    upload itself is all or nothing: one refused file stores none)."""
    folder = settings.transcripts_dir
    out: list[dict] = []
    ids: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="preview-") as tmp:
        for raw_name, data in files:
            shown = _shown(Path(raw_name or "").name or raw_name or "")
            try:
                [name] = check_upload(settings, [(raw_name, data)])
                stem = Path(name).stem
                if stem in ids:
                    raise UploadRejected(422, f"'{_shown(ids[stem])}' and '{_shown(name)}' would both be the "
                                              f"transcript '{_shown(stem)}'; send one of them")
                ids[stem] = name
                own = folder / name
                if own.is_file() and own.read_bytes() == data:
                    out.append({"file": name, "status": "unchanged", "replaces": [name]})
                    continue
                old = _replaced(folder, name, True) if folder.is_dir() else []
                path = Path(tmp) / f"{uuid.uuid4().hex}{Path(name).suffix.lower()}"
                path.write_bytes(data)
                try:
                    transcript = parse_file(path, stem)
                except TranscriptError as exc:
                    raise UploadRejected(422, f"'{_shown(name)}' cannot be read as a transcript: {exc}") from None
                status = "new" if not old else "updated" if replace else "exists"
                out.append({"file": name, "status": status, "replaces": [p.name for p in old],
                            "title": transcript.title, "turns": len(transcript.turns),
                            "speakers": len({t.speaker for t in transcript.turns if t.speaker})})
            except UploadRejected as exc:
                out.append({"file": shown, "status": "refused", "code": exc.status, "reason": str(exc)})
    return out


def describe_upload(files: list[dict], skipped: list[dict]) -> list[dict]:
    """The store outcome of each uploaded file, `skipped` (with the reason) when the sync did not
    index it."""
    reasons = {s["file"]: s["reason"] for s in skipped}
    return [{**f, "status": "skipped", "reason": reasons[f["file"]]} if f["file"] in reasons else f
            for f in files]
