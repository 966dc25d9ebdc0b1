"""`rag-ingest`: sync transcript files or folders into the index."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

EPILOG = """examples:
  rag-ingest                          sync data/transcripts (the default folder)
  rag-ingest interviews/ extra.txt    sync a folder and one more file
  rag-ingest --dry-run                show what would change, write nothing
  rag-ingest --rebuild                rebuild beside the live index, then switch (new model/chunking)

While a service holds the embedded store, a plain `rag-ingest` asks it to re-ingest its
folder (POST /v1/ingest); anything else is refused with what to do instead.

Settings (store path, Chroma server, embedding model…) come from the environment or .env,
e.g. CHROMA_PATH=var/chroma, CHROMA_HOST=localhost, EMBEDDING_MODEL=…"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag-ingest",
        description="Parse interview transcripts, cut answer chunks that carry their question, "
        "embed them and sync them into Chroma. Only what changed is re-embedded.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="*", type=Path, help="transcript files or folders "
                        "(default: TRANSCRIPTS_DIR, i.e. data/transcripts)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    parser.add_argument("--rebuild", action="store_true",
                        help="build a new index generation, check it, switch to it atomically")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from ingest import store as ix
    from ingest.embed import load_embedder
    from ingest.lock import StoreBusy, StoreLock
    from ingest.settings import IngestSettings
    from ingest.sync import RebuildFailed, rebuild, sync_paths

    settings = IngestSettings()
    paths = args.paths or [settings.transcripts_dir]
    console = Console(stderr=True)
    lock = None
    if not settings.client_server and not args.dry_run:
        lock = StoreLock(settings.chroma_path)
        try:
            lock.acquire(kind="rag-ingest")
        except StoreBusy as busy:
            return _delegate(busy.owner, args, settings)
    client = ix.chroma_client(settings)
    embedder = load_embedder(settings, lazy=True)
    with Progress(
        TextColumn("{task.description:<8}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, disable=args.quiet or not console.is_terminal, transient=True,
    ) as bar:
        tasks: dict[str, int] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done, total=total)

        try:
            if args.rebuild:
                report = rebuild(paths, settings, embedder, client, progress, grace_seconds=0)
            else:
                report = sync_paths(paths, settings, embedder, client, dry_run=args.dry_run, progress=progress)
        except (RebuildFailed, ix.ModelMismatch) as exc:
            print(f"rag-ingest: {exc}", file=sys.stderr)
            return 2
        finally:
            if lock:
                lock.release()
    if args.dry_run:
        for plan in report.plans:
            print(f"{plan.status:9} {plan.id}: +{len(plan.added)} ~{len(plan.updated)} "
                  f"={plan.unchanged} -{len(plan.deleted)}")
            for line in plan.dropped:  # what would be left out: never what a person said
                short = " ".join(line.split())
                print(f"  would drop: {short[:100]}{'…' if len(short) > 100 else ''}")
    for skip in report.skipped:
        print(f"skipped {skip['file']}: {skip['reason']}", file=sys.stderr)
    print(report.summary())
    return 1 if report.skipped else 0


def _delegate(owner: dict, args, settings) -> int:
    """A service owns the embedded store: send it the work, or say what to do."""
    url = owner.get("url", "")
    if args.paths or args.rebuild or not url:
        print(
            f"rag-ingest: a running service (pid {owner.get('pid')}, {url or 'unknown address'}) holds the "
            f"embedded store in {settings.chroma_path}; writing behind its back could corrupt it.\n"
            f"  Do one of: upload the files through the service (POST {url}/v1/transcripts), "
            f"{'POST ' + url + '/v1/ingest?rebuild=true, ' if args.rebuild else ''}"
            f"stop the service first, or run Chroma as a server (CHROMA_HOST) so any process may ingest.",
            file=sys.stderr,
        )
        return 2
    import httpx

    headers = {"X-API-Key": settings.api_key.get_secret_value()} if settings.api_key else {}
    print(f"a running service holds the store: asking it to re-ingest ({url}/v1/ingest)", file=sys.stderr)
    try:
        r = httpx.post(f"{url}/v1/ingest", headers=headers, timeout=None)
    except httpx.HTTPError as exc:
        print(f"rag-ingest: the service at {url} holds the store but did not answer ({exc})", file=sys.stderr)
        return 2
    body = r.json()
    if r.status_code != 200:
        print(f"rag-ingest: the service refused ({r.status_code}): {body.get('detail')}", file=sys.stderr)
        return 2
    print(f"{body['transcripts']} transcripts; chunks added {body['added']}, updated {body['updated']}, "
          f"unchanged {body['unchanged']}, deleted {body['deleted']}; {body['seconds']:.1f} s (via service)")
    return 1 if body["skipped"] else 0


if __name__ == "__main__":
    sys.exit(main())
