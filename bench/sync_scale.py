"""Sync and serve at thousands of transcripts (issue 19 item 5): is every step still linear?

For each N, in a fresh process (so each peak RSS is its own):
- N small generated transcripts (2-4 turns: an interviewer and one or two guests from a pool of
  400 names, about 60 words each) are written to a temporary folder;
- `ingest.sync.sync_paths` runs a first sync into an empty store, a no-change re-sync, and a
  re-sync after one file changed (one answer edited): the seconds of each, and the sync
  process's peak RSS (`resource.getrusage`);
- `rag-serve --no-ingest` (`python -m service.serve`) starts on that index; one warm-up chat,
  then QUESTIONS first-time questions about the corpus, one at a time: the p50 of `POST /v1/chat`;
  `GET /v1/transcripts` timed twice (the first call builds the list); the service's peak RSS
  (VmHWM from /proc).

examples:
  python bench/sync_scale.py --n 5000 20000       the figures in docs/benchmarks.md
  python bench/sync_scale.py --n 1200 --questions 5   a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim",
         "Margaret", "John", "Katherine", "Dennis", "Shafi", "Leslie", "Sophie", "Niklaus", "Hedy", "Claude"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Perlman",
        "Berners", "Hamilton", "Backus", "Johnson", "Ritchie", "Goldwasser", "Lamport", "Wilson", "Wirth",
        "Lamarr", "Shannon"]
ORGS = ["Northwind", "Contoso", "Fabrikam", "Initech", "Globex", "Umbrella", "Hooli", "Stark", "Wayne", "Acme"]
TOPICS = ["pricing", "hiring", "the data centre", "security", "customer support", "the supply chain",
          "open source", "the mobile app", "energy use", "training", "the Berlin office", "compliance",
          "the search engine", "billing", "the storage layer", "remote work", "the partner network",
          "accessibility", "the annual budget", "latency"]
VERBS = ["rebuilt", "moved", "cut the cost of", "doubled", "replaced", "audited", "automated", "redesigned",
         "simplified", "measured", "outsourced", "brought back", "tested", "documented", "scaled"]
REASONS = ["because customers kept asking for it", "after a long outage", "to meet a new regulation",
           "when the old vendor raised prices", "since the team had grown", "to save about a third of the cost",
           "after a pilot in one region", "because the board insisted", "to ship features faster",
           "when usage tripled in a year"]


def write_corpus(folder: Path, n: int, seed: int = 0) -> None:
    """N small speaker-labelled interviews of 2-4 turns (an interviewer and one or two guests, a
    question and its answer per exchange), deterministic per seed."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        org = rng.choice(ORGS)
        guests = [f"{rng.choice(FIRST)} {rng.choice(LAST)}" for _ in range(rng.randint(1, 2))]
        lines = [f"Interview {i} with {org} about {rng.choice(TOPICS)}", ""]
        turns = rng.randint(2, 4)
        for exchange in range(turns // 2):
            topic, verb, year = rng.choice(TOPICS), rng.choice(VERBS), rng.randint(1990, 2030)
            lines += [f"Interviewer: What happened to {topic} at {org} in {year}?", "",
                      (f"{guests[exchange % len(guests)]}: In {year} we {verb} {topic} {rng.choice(REASONS)}. "
                      f"It took {rng.randint(2, 40)} people about {rng.randint(2, 30)} weeks, "
                      f"and {rng.choice(TOPICS)} changed as well."), ""]
        if turns % 2:
            lines += [f"Interviewer: Thank you, {guests[0]}.", ""]
        (folder / f"interview-{i:05d}.txt").write_text("\n".join(lines), encoding="utf-8")


def questions(k: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [f"What happened to {rng.choice(TOPICS)} at {rng.choice(ORGS)} in {rng.randint(1990, 2030)}?"
            for _ in range(k)]


def timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def sync_figures(n: int, work: Path) -> dict:
    """First, no-change and one-change syncs of N generated transcripts into work/chroma."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from ingest import store as ix
    from ingest.embed import load_embedder
    from ingest.settings import IngestSettings
    from ingest.sync import sync_paths

    corpus = work / "transcripts"
    write_corpus(corpus, n)
    settings = IngestSettings(_env_file=None, chroma_path=work / "chroma", transcripts_dir=corpus)
    embedder = load_embedder(settings)
    client = ix.chroma_client(settings)
    first_s, first = timed(lambda: sync_paths([corpus], settings, embedder, client))
    again_s, again = timed(lambda: sync_paths([corpus], settings, embedder, client))
    assert (again.added, again.updated, again.deleted) == (0, 0, 0), again.summary()
    victim = corpus / f"interview-{n // 2:05d}.txt"
    victim.write_text(victim.read_text(encoding="utf-8").replace(" we ", " we quietly ", 1), encoding="utf-8")
    one_s, one = timed(lambda: sync_paths([corpus], settings, embedder, client))
    assert one.updated >= 1 and one.added == one.deleted == 0, one.summary()  # the piece, and the next (it quotes it)
    return {"n": n, "chunks": first.added, "first_s": first_s, "again_s": again_s, "one_s": one_s,
            "sync_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vm(pid: int, key: str) -> float:
    """VmRSS / VmHWM of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def serve_figures(work: Path, n_questions: int) -> dict:
    """Start rag-serve on work/chroma; chat p50, the transcript list, the service's peak RSS."""
    import httpx

    port = free_port()
    env = {**os.environ, "CHROMA_PATH": str(work / "chroma"), "TRANSCRIPTS_DIR": str(work / "transcripts"),
           "HF_HUB_OFFLINE": "1", "CHAT_RATE_LIMIT": "0", "PORT": str(port)}
    log = (work / "serve.log").open("wb")
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "service.serve", "--no-ingest", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=300) as http:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"rag-serve exited ({proc.returncode}); see {work / 'serve.log'}")
                try:
                    if http.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.5)
            start_s = time.perf_counter() - started

            def chat(q: str) -> float:
                t = time.perf_counter()
                r = http.post("/v1/chat", json={"messages": [{"role": "user", "content": q}]})
                assert r.status_code == 200, r.text
                return (time.perf_counter() - t) * 1000

            chat("What happened to pricing at Acme?")  # warm-up
            chat_ms = [chat(q) for q in questions(n_questions)]
            list_first_s, listed = timed(lambda: http.get("/v1/transcripts"))
            list_again_s, _ = timed(lambda: http.get("/v1/transcripts"))
            assert listed.status_code == 200, listed.text
        return {"start_s": start_s, "chat_p50_ms": statistics.median(chat_ms), "chat_max_ms": max(chat_ms),
                "list_first_ms": list_first_s * 1000, "list_again_ms": list_again_s * 1000,
                "listed": len(listed.json()["transcripts"]), "serve_rss_mb": vm(proc.pid, "VmHWM")}
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def one_size(n: int, n_questions: int) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"sync-scale-{n}-") as tmp:
        work = Path(tmp)
        figures = sync_figures(n, work)
        return {**figures, **serve_figures(work, n_questions)}


def table(rows: list[dict]) -> str:
    head = ("| N | chunks | first sync s | no-change re-sync s | one-change re-sync s | chat p50 ms | "
            "list ms (first / again) | peak RSS MB (sync / service) |")
    lines = [head, "|" + " --- |" * (head.count("|") - 1)]
    for r in rows:
        lines.append(f"| {r['n']:,} | {r['chunks']:,} | {r['first_s']:.1f} | {r['again_s']:.2f} | {r['one_s']:.2f} | "
                     f"{r['chat_p50_ms']:.0f} | {r['list_first_ms']:.0f} / {r['list_again_ms']:.0f} | "
                     f"{r['sync_rss_mb']:.0f} / {r['serve_rss_mb']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, nargs="+", default=[5000, 20000], help="corpus sizes (transcripts)")
    p.add_argument("--questions", type=int, default=20, help="chat questions timed per size")
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: run one size, print JSON
    a = p.parse_args()
    if a.one:
        print(json.dumps(one_size(a.one, a.questions)))
        return
    print(f"load average at start: {os.getloadavg()}", flush=True)
    rows = []
    for n in a.n:
        started = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, "--one", str(n), "--questions", str(a.questions)],
                             capture_output=True, text=True, check=False)
        if out.returncode:
            sys.exit(f"N={n} failed:\n{out.stderr[-3000:]}")
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        r = rows[-1]
        print(f"N={n:,}: {time.perf_counter() - started:.0f} s wall; service start {r['start_s']:.1f} s, "
              f"chat max {r['chat_max_ms']:.0f} ms, {r['listed']:,} transcripts listed", flush=True)
    print(f"load average at end: {os.getloadavg()}\n")
    print(table(rows))


if __name__ == "__main__":
    main()
