"""Re-ingest through the service: one job at a time, progress readable by job id."""

from __future__ import annotations

import logging
import os
import threading
import time
import traceback
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ingest.config import Settings
from ingest.index import ModelMismatch
from ingest.parse import PARSERS, TranscriptError, parse_file
from ingest.sync import RebuildFailed, SyncReport, rebuild, sync_paths
from service.guard import log_json
from service.retrieve import Retriever


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

    def __init__(self, settings: Settings, retriever: Retriever):
        self.settings = settings
        self.retriever = retriever
        self._lock = threading.Lock()
        self.current: Job | None = None
        self.jobs: dict[str, Job] = {}

    def run(self, kind: str, requested_by: str, paths: list[Path] | None = None) -> tuple[Job, SyncReport | None]:
        """Run one ingest now (in the calling thread); raise IngestBusy if one is running."""
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

            paths = paths or [self.settings.transcripts_dir]
            r = self.retriever
            if kind == "rebuild":
                report = rebuild(paths, self.settings, r.embedder, r.client, progress,
                                 self.settings.rebuild_grace_seconds)
            else:
                report = sync_paths(paths, self.settings, r.embedder, r.client, progress=progress)
            r.refresh()
            job.status, job.result = "done", {**report.counts(), "seconds": round(report.seconds, 3)}
        except Exception as exc:
            # The job view is an API answer: only messages written for people go out as they are;
            # anything else (it may carry paths or library internals) is logged, and named.
            public = isinstance(exc, ModelMismatch | RebuildFailed | TranscriptError)
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


def store_uploads(settings: Settings, files: list[tuple[str, bytes]]) -> list[Path]:
    """Check every uploaded transcript, then move them into the folder; all or nothing."""
    folder = settings.transcripts_dir
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / ".staging"
    staging.mkdir(exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for raw_name, data in files:
            name = Path(raw_name or "").name
            if not name or name.startswith("."):
                raise UploadRejected(422, f"'{raw_name}': a transcript needs a file name such as interview.txt")
            if Path(name).suffix.lower() not in PARSERS:
                raise UploadRejected(415, f"'{name}': unsupported format '{Path(name).suffix or '(none)'}' "
                                     f"(supported: {', '.join(sorted(PARSERS))})")
            if len(data) > settings.max_upload_bytes:
                raise UploadRejected(413, f"'{name}' is {len(data):,} bytes; the limit is "
                                     f"{settings.max_upload_bytes:,} bytes per file")
            tmp = staging / f"{uuid.uuid4().hex}{Path(name).suffix.lower()}"
            tmp.write_bytes(data)
            staged.append((tmp, folder / name))
            try:
                parse_file(tmp, Path(name).stem)
            except TranscriptError as exc:
                raise UploadRejected(422, f"'{name}' was not stored: {exc}") from None
        for tmp, final in staged:
            os.replace(tmp, final)
        return [final for _, final in staged]
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        try:
            staging.rmdir()
        except OSError:
            pass  # another upload is still using it
