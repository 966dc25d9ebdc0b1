"""Re-ingest through the service: POST /v1/ingest, POST /v1/transcripts, GET /v1/ingest/{id}."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request, UploadFile
from fastapi.concurrency import run_in_threadpool

from service.api.deps import SettingsDep
from service.ingest_jobs import IngestBusy, IngestManager, UploadRejected, store_uploads

router = APIRouter(tags=["ingest"])
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def get_ingest(request: Request) -> IngestManager:
    return request.app.state.ingest


IngestDep = Annotated[IngestManager, Depends(get_ingest)]


def require_key(request: Request, settings: SettingsDep,
                x_api_key: Annotated[str | None, Header()] = None) -> str:
    """X-API-Key, compared in constant time; with no key configured, loopback clients only."""
    client = request.client.host if request.client else "unknown"
    expected = settings.api_key.get_secret_value() if settings.api_key else None
    if expected is None:
        if client not in LOOPBACK:
            raise HTTPException(403, "re-ingest is only open to this machine while no API_KEY is "
                                     "configured; set API_KEY on the service and send it as X-API-Key")
        return client
    if not x_api_key:
        raise HTTPException(401, "missing API key: send it in the X-API-Key header")
    if not hmac.compare_digest(x_api_key.encode(), expected.encode()):
        raise HTTPException(401, "wrong API key in the X-API-Key header")
    return f"key …{x_api_key[-4:]}" if len(x_api_key) > 8 else "key"


CallerDep = Annotated[str, Depends(require_key)]


def _run(manager: IngestManager, kind: str, caller: str, paths=None) -> dict:
    try:
        job, _ = manager.run(kind, caller, paths)
    except IngestBusy as exc:
        raise HTTPException(409, str(exc)) from None
    return {"job": job.id, **job.result}


@router.post("/v1/ingest")
async def ingest(manager: IngestDep, caller: CallerDep, rebuild: bool = False) -> dict:
    """Sync the configured transcripts folder (or rebuild the index with `?rebuild=true`)."""
    return await run_in_threadpool(_run, manager, "rebuild" if rebuild else "sync", caller)


@router.post("/v1/transcripts")
async def upload(files: list[UploadFile], manager: IngestDep, caller: CallerDep, settings: SettingsDep) -> dict:
    """Upload transcript files (multipart field `files`), store them in the folder, then sync."""
    if manager.current is not None:
        raise HTTPException(409, str(IngestBusy(manager.current)))
    payload = []
    for f in files:
        data = await f.read(settings.max_upload_bytes + 1)
        payload.append((f.filename or "", data))
    try:
        stored = await run_in_threadpool(store_uploads, settings, payload)
    except UploadRejected as exc:
        raise HTTPException(exc.status, str(exc)) from None
    result = await run_in_threadpool(_run, manager, "upload", caller)
    return {**result, "stored": [p.name for p in stored]}


@router.get("/v1/ingest/{job_id}")
def job(job_id: str, manager: IngestDep) -> dict:
    found = manager.jobs.get(job_id)
    if found is None:
        raise HTTPException(404, f"no ingest job '{job_id}' (jobs are kept until the service restarts)")
    return found.view()
