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
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from ingest import index as ix
    from ingest.config import Settings
    from ingest.sync import sync_paths

    settings = Settings()
    paths = args.paths or [settings.transcripts_dir]
    console = Console(stderr=True)
    client = ix.chroma_client(settings)
    embedder = ix.load_embedder(settings, lazy=True)
    with Progress(
        TextColumn("{task.description:<8}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, disable=args.quiet or not console.is_terminal, transient=True,
    ) as bar:
        tasks: dict[str, int] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done, total=total)

        report = sync_paths(paths, settings, embedder, client, dry_run=args.dry_run, progress=progress)
    if args.dry_run:
        for plan in report.plans:
            print(f"{plan.status:9} {plan.id}: +{len(plan.added)} ~{len(plan.updated)} "
                  f"={plan.unchanged} -{len(plan.deleted)}")
    for skip in report.skipped:
        print(f"skipped {skip['file']}: {skip['reason']}", file=sys.stderr)
    print(report.summary())
    return 1 if report.skipped else 0


if __name__ == "__main__":
    sys.exit(main())
