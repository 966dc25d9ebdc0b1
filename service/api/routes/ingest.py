"""Re-ingest through the service: POST /v1/ingest, POST /v1/transcripts, GET /v1/ingest/{id}."""

from __future__ import annotations

import errno
import logging
import shutil
from typing import Annotated

from chromadb.errors import ChromaError
from fastapi import APIRouter, Depends, Header, HTTPException, Request, UploadFile
from fastapi.concurrency import run_in_threadpool

from ingest.store import ModelMismatch, WriteFailed
from ingest.sync import RebuildFailed
from service.api.deps import SettingsDep
from service.edge.ingest_auth import Refused, check_request
from service.ops.ingest_jobs import (
    IngestBusy,
    IngestManager,
    UploadRejected,
    describe_upload,
    preview_uploads,
    store_uploads,
)

router = APIRouter(tags=["ingest"])
log = logging.getLogger("service")


def get_ingest(request: Request) -> IngestManager:
    return request.app.state.ingest


IngestDep = Annotated[IngestManager, Depends(get_ingest)]


def require_key(request: Request, settings: SettingsDep,
                x_api_key: Annotated[str | None, Header()] = None) -> str:
    """X-API-Key, compared in constant time; with no key configured, loopback clients only; never a
    page on another site. service.edge.ingest_auth runs the same check before the body is read."""
    client = request.client.host if request.client else "unknown"
    try:
        return check_request(settings, request.scope, client, x_api_key)
    except Refused as exc:
        raise HTTPException(exc.status, exc.detail) from None


CallerDep = Annotated[str, Depends(require_key)]


def _check_store(manager: IngestManager) -> None:
    """Refuse an ingest that cannot end well: the store failed a write before, or the disk is full."""
    settings = manager.settings
    if broken := getattr(manager, "write_failed", None):
        raise HTTPException(503, f"re-ingest is off until the service restarts: an earlier ingest failed while "
                                 f"writing to the index ({broken}). Free disk space, restart, then ingest again.")
    if settings.min_free_disk_mb and not settings.client_server:
        free = shutil.disk_usage(settings.chroma_path).free // 2**20
        if free < settings.min_free_disk_mb:
            raise HTTPException(507, f"only {free} MB of disk space is free for the index (MIN_FREE_DISK_MB is "
                                     f"{settings.min_free_disk_mb}); free some space, then ingest again")


def _disk_full(exc: BaseException | None) -> bool:
    text = str(exc)
    return getattr(exc, "errno", None) == errno.ENOSPC or "disk is full" in text or "compaction" in text


def _run(manager: IngestManager, kind: str, caller: str, prepare=None) -> dict:
    _check_store(manager)
    try:
        job, _ = manager.run(kind, caller, prepare=prepare)
    except IngestBusy as exc:
        raise HTTPException(409, str(exc)) from None
    except UploadRejected as exc:
        raise HTTPException(exc.status, str(exc)) from None
    except ModelMismatch as exc:
        raise HTTPException(409, str(exc)) from None
    except RebuildFailed as exc:
        raise HTTPException(500, f"the rebuild failed its check: {exc}") from None
    except WriteFailed as exc:
        # A failed write (disk full) can leave the embedded Chroma client unable to write again
        # (its next write blocks): refuse further ingests instead of hanging them.
        reason = "disk full" if _disk_full(exc.__cause__) else type(exc.__cause__).__name__
        manager.write_failed = reason
        log.error("ingest failed while writing to the index: %s", exc)
        raise HTTPException(507 if reason == "disk full" else 500,
                            f"the ingest failed while writing to the index ({reason}); the service keeps "
                            "answering from the index it had. Free disk space, restart, then ingest again.") from None
    except (ChromaError, OSError) as exc:
        # Reading the index or the folder failed: nothing was written, and the next ingest may try again.
        log.error("ingest failed before writing to the index: %s: %s", type(exc).__name__, exc)
        raise HTTPException(500, f"the ingest failed while reading the index or the folder ({type(exc).__name__}) "
                                 "and wrote nothing; the service keeps answering from the index it had. The "
                                 "details are in the service log; try again.") from None
    return {"job": job.id, **job.result}


@router.post("/v1/ingest")
async def ingest(manager: IngestDep, caller: CallerDep, rebuild: bool = False) -> dict:
    """Sync the configured transcripts folder (or rebuild the index with `?rebuild=true`)."""
    return await run_in_threadpool(_run, manager, "rebuild" if rebuild else "sync", caller)


@router.post("/v1/transcripts")
async def upload(files: list[UploadFile], manager: IngestDep, caller: CallerDep, settings: SettingsDep,
                 replace: bool = False, preview: bool = False) -> dict:
    """Upload transcript files (multipart field `files`), store them in the folder, then sync.

    All or nothing: one bad file (name, format, size, content) stores none. The reply says what
    happened to each file (`files`: stored, replaced, or skipped with the reason). A file whose name,
    or whose transcript id (its name without the extension), is already in the folder is a 409
    naming that file unless `?replace=true`, which replaces it.

    With `?preview=true` nothing is written: `files` says what the upload would do to each file
    (new; updated, with `replace`; exists, without it; unchanged; or refused with the reason and
    `code`, the status it would get).
    """
    payload = [(f.filename or "", await f.read(settings.max_upload_bytes + 1)) for f in files]
    if preview:
        return {"preview": True, "files": await run_in_threadpool(preview_uploads, settings, payload, replace)}

    def store():  # runs under the ingest claim: an upload refused with 409 stores nothing
        return store_uploads(settings, payload, replace)

    result = await run_in_threadpool(_run, manager, "upload", caller, store)
    return {**result, "files": describe_upload(result["files"], result["skipped"])}


@router.get("/v1/ingest/{job_id}")
def job(job_id: str, manager: IngestDep, _caller: CallerDep) -> dict:
    """Progress and result of an ingest job (same key as starting one)."""
    found = manager.jobs.get(job_id)
    if found is None:
        raise HTTPException(404, f"no ingest job '{job_id}' (jobs are kept until the service restarts)")
    return found.view()
