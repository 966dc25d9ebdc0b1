"""What bench/compare_pipelines.py and bench/scale_bench.py share: the QMSum committee corpus and
cases, this service's ingest and the LangChain tutorial's ingest of a folder, timed, and Markdown.

Nothing here is tuned to the cases: a case only ever meets the code as its question text.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpora" / "qmsum-committee"
EVAL = SHARED / "eval"


def load_split(split: str) -> list[dict]:
    """qmsum-<split>.jsonl as a list of cases (each with its `question`)."""
    path = EVAL / f"qmsum-{split}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def transcript_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix == ".txt")


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in transcript_files(folder))


def load_text() -> str:
    a = os.getloadavg()
    return f"{a[0]:.2f} / {a[1]:.2f} / {a[2]:.2f}"


def code_state() -> str:
    """The commit and, if the working tree differs from it under ingest/ and service/, a hash of the
    difference: which code a table was measured on."""
    import hashlib
    import subprocess

    def git(*a: str) -> str:
        return subprocess.run(["git", *a], check=False, cwd=ROOT, capture_output=True, text=True).stdout

    head = git("rev-parse", "--short", "HEAD").strip() or "?"
    diff = git("diff", "HEAD", "--", "ingest", "service") + git("status", "--porcelain", "--", "ingest", "service")
    return head + (f" + uncommitted changes ({hashlib.sha1(diff.encode()).hexdigest()[:8]})" if diff else "")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def progress_printer(label: str, every: float = 30.0):
    """A sync_paths progress callback that logs at most every `every` seconds."""
    last = [0.0]

    def progress(stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= every or done == total:
            last[0] = now
            log(f"{label}: {stage} {done}/{total}")

    return progress


# --- this service ------------------------------------------------------------------------------
def service_ingest(folder: Path, chroma: Path, embedder) -> dict:
    """The whole folder through the project's own ingest (parse, chunk, embed, write) into `chroma`."""
    from ingest import store as ix
    from ingest.sync import sync_paths
    from service.settings import ServiceSettings

    settings = ServiceSettings(transcripts_dir=folder, chroma_path=chroma)
    client = ix.chroma_client(settings)
    t = time.perf_counter()
    report = sync_paths([folder], settings, embedder, client, progress=progress_printer("service ingest"))
    seconds = time.perf_counter() - t
    if report.skipped:
        log(f"service ingest skipped: {report.skipped}")
    return {"settings": settings, "client": client, "report": report, "seconds": seconds,
            "chunks": report.added + report.updated + report.unchanged}


# --- the LangChain RAG tutorial ----------------------------------------------------------------
def tutorial_ingest(folder: Path, embedder, name: str = "tutorial") -> dict:
    """bench/langchain_tutorial.py's pipeline: each file one Document, RecursiveCharacterTextSplitter
    1000/200 (add_start_index), the same MiniLM through a LangChain Embeddings, a langchain-chroma
    store on an in-memory Chroma. Timed from reading the files to the last write."""
    import chromadb
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    t = time.perf_counter()
    docs = [Document(page_content=f.read_text(encoding="utf-8"), metadata={"source": str(f)})
            for f in transcript_files(folder)]
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200, add_start_index=True)
    splits = splitter.split_documents(docs)
    client = chromadb.EphemeralClient(settings=chromadb.Settings(anonymized_telemetry=False))
    store = Chroma(client=client, collection_name=name, embedding_function=embedder)
    store.add_documents(splits)
    seconds = time.perf_counter() - t
    return {"store": store, "client": client, "name": name, "seconds": seconds, "chunks": len(splits)}


def tutorial_drop(tut: dict) -> None:
    tut["client"].delete_collection(tut["name"])


# --- Markdown ------------------------------------------------------------------------------------
def md_table(headers: list[str], rows: list[list]) -> str:
    def cell(v) -> str:
        return "–" if v is None else str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
