"""`rag-serve`: ingest the transcripts if the index is empty, then serve the API and chat UI."""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
from pathlib import Path

M_ARENA_MAX = -8  # glibc's mallopt parameter number


def cap_malloc_arenas(default: int = 2) -> int:
    """Cap glibc's malloc arenas at MALLOC_ARENA_MAX (default 2), for this process and the workers
    it starts; returns the cap.

    glibc gives threads that allocate their own arena, up to eight per core. The answer thread
    pool, torch's and Chroma's threads each fill one, and freed memory stays in them: measured on
    the 36 hearings, the service held 1,051 MiB after answering 358 questions, 908 MiB with two
    arenas, at the same speed.
    """
    value = int(os.environ.setdefault("MALLOC_ARENA_MAX", str(default)))
    try:
        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, value)
    except (OSError, AttributeError):  # not glibc: nothing to cap
        pass
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="rag-serve",
        description="Serve the chat UI (/) and the REST API (/docs). Ingests TRANSCRIPTS_DIR "
        "first when the index is empty.",
        epilog="example: rag-serve --port 8000",
    )
    parser.add_argument("--host", help="interface to bind (default HOST, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default PORT, 8000)")
    parser.add_argument("--no-ingest", action="store_true", help="do not ingest an empty index")
    parser.add_argument("--workers", type=int, help="worker processes (default WORKERS, 1); more than "
                        "one needs a Chroma server (CHROMA_HOST)")
    args = parser.parse_args(argv)
    cap_malloc_arenas()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if metrics_dir := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # /metrics summed over workers
        Path(metrics_dir).mkdir(parents=True, exist_ok=True)
        for stale in Path(metrics_dir).glob("*.db"):  # before any metric exists in this run
            stale.unlink()
    from ingest import store as ix
    from ingest.embed import load_embedder
    from service.settings import ServiceSettings

    settings = ServiceSettings()
    workers = args.workers or settings.workers
    if workers > 1 and not settings.client_server:
        print("rag-serve: --workers above 1 needs a Chroma server (set CHROMA_HOST); the embedded "
              "store cannot be shared by several processes.", file=sys.stderr)
        return 2
    from service.ops.store_health import StoreUnavailable, wait_for_chroma

    try:
        wait_for_chroma(settings)
    except StoreUnavailable as exc:
        print(f"rag-serve: {exc}", file=sys.stderr)
        return 1
    if not args.no_ingest:
        client = ix.chroma_client(settings)
        if ix.open_collection(client, settings, ix.CHUNK_SUFFIX).count() == 0:
            from ingest.sync import sync_paths

            report = sync_paths([settings.transcripts_dir], settings, load_embedder(settings, lazy=True), client)
            print(f"ingested: {report.summary()}", file=sys.stderr)
        del client
    from service.edge.connections import serve

    # SIGTERM: stop accepting, let answers in progress finish for up to the grace period, then exit;
    # request heads, bodies, idle and silent connections, and their number in all and per client are
    # bounded (service/edge/connections.py)
    host, port = args.host or settings.host, args.port or settings.port
    # with several workers each builds its app from the environment (ServiceSettings())
    app = "service.serve:served_app" if workers > 1 else served_app(settings)
    return serve(app, settings, host=host, port=port, workers=workers)


def served_app(settings=None):
    """The app as rag-serve runs it: on SIGTERM, streams in progress may finish (SHUTDOWN_GRACE_SECONDS).

    sse-starlette would end every open stream at once; uvicorn's graceful-shutdown timeout bounds
    the wait instead (with a grace of 0, streams end at once as before).
    """
    from service.app import create_app
    from service.settings import ServiceSettings

    settings = settings or ServiceSettings()
    if settings.shutdown_grace_seconds > 0:
        from sse_starlette.sse import AppStatus

        AppStatus.disable_automatic_graceful_drain()
    return create_app(settings)


if __name__ == "__main__":
    sys.exit(main())
