"""`/v1/chat` under 1, 4 and 16 concurrent clients, beside the floor; service memory.

For each configuration it starts the real service in a subprocess on a free 127.0.0.1 port:
  embedded  `rag-serve` on an embedded store (data/transcripts ingested into a temp folder)
  server    a real `chroma run` server and `rag-serve --workers 2` with CHROMA_HOST set
then drives POST /v1/chat with a bounded asyncio + httpx load generator (loopback only): a mix
of realistic questions (the dev cases, questions the transcripts do not cover, follow-ups with
history), a fixed number of requests per concurrency level, each level run --runs times.

Beside each level it prints the floor measured in the same run, in this process: one query
encode + one raw Chroma query of the chunk collection (top CANDIDATES), for the same question
right after each single-client request (so both see the same machine load and start as cold;
the service is idle meanwhile), median; p50/floor at one client is the issue-6 figure (goal <=
1.5x with the built-in answerer). The hot floor, the same pair in a tight loop, is shown beside
it. Memory: the service's RSS (summed over its process tree: the uvicorn supervisor and every
worker) after start-up, at the end of the load and its peak while loaded, read from /proc.

The machine may be shared: the load average at start and end is printed with the table.

examples:
  python bench/chat_load.py                                   both configurations, 1/4/16 clients
  python bench/chat_load.py --configs embedded --runs 1 --requests 60    a quick look
  python bench/chat_load.py --embed-threads 1                 EMBED_THREADS=1 (service and floor)
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx
import numpy as np

from bench.retrieval_latency import ChromaServer, free_port
from ingest import store as ix
from ingest.embed import load_embedder
from ingest.settings import IndexSettings, IngestSettings
from service.settings import ServiceSettings

BIN = Path(sys.executable).parent
DEV_CASES = ROOT.parent / "shared" / "eval" / "dev.jsonl"
EXTRA = [  # beyond the dev cases: more phrasings, questions not covered, follow-ups with history
    "How big is the Alibaba Cloud team in Europe?",
    "What advice does he give to people who want to join?",
    "Which customers does Alibaba Cloud serve in Europe?",
    "What is the weather like in Frankfurt in winter?",
    "How many employees does Oracle have?",
    "Why did he leave Cisco?",
]
FOLLOW_UPS = [  # (earlier question, earlier answer, follow-up)
    ("Where did Xuan Jin work before joining Alibaba?", "He was a software developer at Oracle.",
     "And after that?"),
    ("When was Alibaba Cloud started?", "It started back in 2009.", "Who started it?"),
    ("Which cities have Alibaba Cloud offices in Europe?", "London, Paris and Frankfurt.",
     "Why those cities?"),
]


def question_mix() -> list[dict]:
    """Request bodies for /v1/chat (non-streaming, top_k 5)."""
    questions = []
    if DEV_CASES.is_file():
        for line in DEV_CASES.read_text(encoding="utf-8").splitlines():
            if line.strip():
                questions.append(json.loads(line)["question"])
    bodies = [{"messages": [{"role": "user", "content": q}]} for q in questions + EXTRA]
    for q, a, f in FOLLOW_UPS:
        bodies.append({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a},
                                    {"role": "user", "content": f}]})
    rng = np.random.default_rng(3)
    return [bodies[int(i)] for i in rng.permutation(len(bodies))]


def last_question(body: dict) -> str:
    return body["messages"][-1]["content"]


# --- memory -----------------------------------------------------------------------------------
def tree(root: int) -> list[int]:
    """root and all its descendants (from /proc/*/stat)."""
    parent: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            parent[int(d.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(p for p, pp in parent.items() if pp == pid)
    return out


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def tree_rss(root: int) -> tuple[float, list[float]]:
    """Summed RSS of the process tree (MB) and each process's share, largest first."""
    parts = sorted((rss_mb(p) for p in tree(root)), reverse=True)
    parts = [p for p in parts if p > 0]
    return sum(parts), parts


# --- the service ------------------------------------------------------------------------------
class Service:
    """`rag-serve` in its own session (so its workers stop with it), log in the work folder."""

    def __init__(self, env: dict, work: Path, workers: int):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # CHAT_RATE_LIMIT=0: the load clients all ask from loopback, as fast as they are answered
        self.env = {**os.environ, "CHAT_RATE_LIMIT": "0", **env, "HOST": "127.0.0.1", "PORT": str(self.port)}
        self.log = work / f"service-{self.port}.log"
        self.workers = workers
        self.proc: subprocess.Popen | None = None

    def __enter__(self):
        cmd = [str(BIN / "rag-serve"), "--no-ingest", "--workers", str(self.workers)]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True, cwd=ROOT)
        started = time.monotonic()
        while time.monotonic() - started < 300:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rag-serve exited ({self.proc.returncode}):\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/ready", timeout=2).status_code == 200:
                    self.startup_s = time.monotonic() - started
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.__exit__()
        raise RuntimeError(f"rag-serve not ready in 300 s:\n{self.log.read_text()[-3000:]}")

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # our own process group (start_new_session)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    def rss(self) -> tuple[float, list[float]]:
        return tree_rss(self.proc.pid)


# --- load -------------------------------------------------------------------------------------
async def drive(url: str, clients: int, total: int, bodies: list[dict], timeout: float, limit: float,
                sample, after=None) -> dict:
    """`total` requests from `clients` concurrent clients; latencies of the successful ones.

    `after(body)`, when given (one client only), runs after each request, blocking the loop:
    the floor, measured right after each request under the same machine load.
    """
    latencies: list[float] = []
    errors: list[str] = []
    counter = itertools.count()
    peak = [0.0]
    spent = [0.0]  # time in `after`, not the service's

    async def client(http: httpx.AsyncClient):
        while (i := next(counter)) < total:
            t = time.perf_counter()
            try:
                r = await http.post("/v1/chat", json=bodies[i % len(bodies)])
                ok = r.status_code == 200 and "answer" in r.json()
                why = f"HTTP {r.status_code}"
            except (httpx.HTTPError, ValueError) as exc:
                ok, why = False, type(exc).__name__
            if ok:
                latencies.append(time.perf_counter() - t)
            else:
                errors.append(why)
            if after:
                t = time.perf_counter()
                after(bodies[i % len(bodies)])
                spent[0] += time.perf_counter() - t

    async def sampler():
        while True:
            peak[0] = max(peak[0], sample())
            await asyncio.sleep(0.5)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as http:
        watch = asyncio.create_task(sampler())
        started = time.perf_counter()
        try:
            async with asyncio.timeout(limit):
                await asyncio.gather(*(client(http) for _ in range(clients)))
        except TimeoutError:
            errors.extend(["time limit"] * (total - len(latencies) - len(errors)))
        wall = time.perf_counter() - started - spent[0]
        watch.cancel()
    peak[0] = max(peak[0], sample())
    ms = [x * 1000 for x in latencies]
    return {"rps": len(latencies) / wall, "p50": float(np.percentile(ms, 50)) if ms else float("nan"),
            "p95": float(np.percentile(ms, 95)) if ms else float("nan"), "errors": len(errors),
            "why": sorted(set(errors)), "peak_rss": peak[0]}


# --- the floor --------------------------------------------------------------------------------
def floor_once(embedder, collection, question: str, n_results: int) -> float:
    """One query encode + one raw Chroma query of the chunk collection, ms."""
    t = time.perf_counter()
    vec = embedder.encode([question])
    collection.query(query_embeddings=vec, n_results=n_results, include=["distances"])
    return (time.perf_counter() - t) * 1000


# --- one configuration ------------------------------------------------------------------------
@contextmanager
def configuration(name: str, work: Path, embedder, transcripts: Path, workers: int, extra_env: dict):
    """Yields (service, floor chunk collection) with the transcripts ingested."""
    from ingest.sync import sync_paths

    if name == "embedded":
        service_store, floor_store = work / "chroma", work / "floor-chroma"
        env = {"CHROMA_PATH": str(service_store), "TRANSCRIPTS_DIR": str(transcripts), **extra_env}
        subprocess.run([str(BIN / "rag-ingest"), "--quiet", str(transcripts)], check=True, cwd=ROOT,
                       env={**os.environ, **env}, stdin=subprocess.DEVNULL)
        # The floor reads an identical store of its own: the service holds the embedded one.
        fs = IngestSettings(chroma_path=floor_store, transcripts_dir=transcripts)
        client = ix.chroma_client(fs)
        sync_paths([transcripts], fs, embedder, client)
        with Service(env, work, 1) as service:
            yield service, ix.open_collection(client, fs, ix.CHUNK_SUFFIX)
    else:
        with ChromaServer(work / "chroma-server") as chroma:
            env = {"CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(chroma.port),
                   "TRANSCRIPTS_DIR": str(transcripts), "PROMETHEUS_MULTIPROC_DIR": str(work / "prom"),
                   **extra_env}
            fs = IngestSettings(chroma_host="127.0.0.1", chroma_port=chroma.port, transcripts_dir=transcripts)
            client = ix.chroma_client(fs)
            sync_paths([transcripts], fs, embedder, client)  # the same server the service reads
            with Service(env, work, workers) as service:
                yield service, ix.open_collection(client, fs, ix.CHUNK_SUFFIX)


def run_config(name: str, args, embedder, bodies: list[dict]) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"chat-load-{name}-"))
    workers = 1 if name == "embedded" else args.workers
    extra = {"EMBED_THREADS": str(args.embed_threads)} if args.embed_threads is not None else {}
    questions = [last_question(b) for b in bodies]
    candidates = ServiceSettings().candidates
    try:
        with configuration(name, work, embedder, args.transcripts, workers, extra) as (service, chunks):
            startup_rss, parts = service.rss()
            print(f"{name}: ready in {service.startup_s:.1f} s, RSS {startup_rss:.0f} MB "
                  f"({' + '.join(f'{p:.0f}' for p in parts)})", file=sys.stderr)
            asyncio.run(drive(service.url, 4, args.warmup, bodies, args.timeout, args.limit,
                              lambda: 0.0))  # warm-up: every worker's first requests
            floors, hot, results = [], [], {c: [] for c in args.clients}
            for run in range(args.runs):
                hot.append(statistics.median([floor_once(embedder, chunks, q, candidates) for q in questions * 2]))
                for clients in args.clients:
                    samples: list[float] = []
                    after = None
                    if clients == 1:  # the floor, right after each request (same machine load)
                        def after(body, samples=samples):
                            samples.append(floor_once(embedder, chunks, last_question(body), candidates))
                    r = asyncio.run(drive(service.url, clients, args.requests, bodies, args.timeout,
                                          args.limit, lambda: service.rss()[0], after))
                    results[clients].append(r)
                    if samples:
                        floors.append(statistics.median(samples))
                    print(f"  run {run + 1}, {clients:>2} clients: {r['rps']:6.1f} req/s, p50 {r['p50']:6.1f} ms, "
                          f"p95 {r['p95']:6.1f} ms, errors {r['errors']} {r['why'] or ''}", file=sys.stderr)
            if not floors:  # no single-client level: the floor with the service idle
                floors = [floor_once(embedder, chunks, q, candidates) for q in questions * 3]
            end_rss, end_parts = service.rss()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = lambda rs, k: statistics.median(r[k] for r in rs)
    return {
        "workers": workers, "floor": statistics.median(floors), "hot_floor": statistics.median(hot),
        "startup_rss": startup_rss,
        "startup_parts": parts, "end_rss": end_rss, "end_parts": end_parts,
        "peak_rss": max(r["peak_rss"] for rs in results.values() for r in rs),
        "levels": {c: {"rps": med(rs, "rps"), "p50": med(rs, "p50"), "p95": med(rs, "p95"),
                       "errors": sum(r["errors"] for r in rs), "requests": args.requests * len(rs)}
                   for c, rs in results.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("examples:")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", choices=["embedded", "server"], default=["embedded", "server"])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--requests", type=int, default=200, help="requests per level and run (default 200)")
    parser.add_argument("--runs", type=int, default=3, help="runs; the table shows their median (default 3)")
    parser.add_argument("--warmup", type=int, default=30, help="requests before measuring (default 30)")
    parser.add_argument("--workers", type=int, default=2, help="workers in the server configuration (default 2)")
    parser.add_argument("--embed-threads", type=int, help="EMBED_THREADS for the service and the floor")
    parser.add_argument("--transcripts", type=Path, default=ROOT / "data" / "transcripts")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds one request may take")
    parser.add_argument("--limit", type=float, default=600.0, help="seconds one level may take")
    args = parser.parse_args(argv)
    if args.embed_threads is not None:
        os.environ["EMBED_THREADS"] = str(args.embed_threads)

    bodies = question_mix()
    embedder = load_embedder(IndexSettings())
    load_before = os.getloadavg()
    results = {name: run_config(name, args, embedder, bodies) for name in args.configs}
    load_after = os.getloadavg()

    threads = IndexSettings().embed_threads or "default"
    print(f"\n/v1/chat, built-in answerer: median of {args.runs} runs x {args.requests} requests per level; "
          f"{len(bodies)} questions (dev cases, uncovered questions, follow-ups); EMBED_THREADS={threads}; "
          f"{os.cpu_count()} CPUs, load average {load_before[0]:.1f} at start, {load_after[0]:.1f} at end")
    print(f"{'config':<18} {'clients':>7} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'errors':>9} "
          f"{'floor ms':>9} {'p50/floor':>9} {'hot floor':>9} {'p50/hot':>8} {'vs 1 client':>11}")
    for name, r in results.items():
        label = "embedded" if name == "embedded" else f"server, {r['workers']} workers"
        single = r["levels"][args.clients[0]]["rps"]
        for clients, lv in r["levels"].items():
            print(f"{label:<18} {clients:>7} {lv['rps']:>7.1f} {lv['p50']:>7.1f} {lv['p95']:>7.1f} "
                  f"{lv['errors']:>4}/{lv['requests']:<4} {r['floor']:>9.1f} {lv['p50'] / r['floor']:>8.2f}x "
                  f"{r['hot_floor']:>9.1f} {lv['p50'] / r['hot_floor']:>7.2f}x {lv['rps'] / single:>10.2f}x")
    print("floor = one query encode + one raw Chroma query (chunk collection, top "
          f"{ServiceSettings().candidates}), in this process, right after each single-client request; median.\n"
          "hot floor = the same in a tight loop before each run (warm caches: what a process that never "
          "waits gets; the service always waits for its next request)")
    print(f"\n{'config':<18} {'RSS after start-up':>19} {'at end of load':>15} {'peak under load':>16}   processes at end (MB)")
    for name, r in results.items():
        label = "embedded" if name == "embedded" else f"server, {r['workers']} workers"
        print(f"{label:<18} {r['startup_rss']:>16.0f} MB {r['end_rss']:>12.0f} MB {r['peak_rss']:>13.0f} MB   "
              + " + ".join(f"{p:.0f}" for p in r["end_parts"]))
    print("RSS summed over the service's process tree (uvicorn supervisor + workers), from /proc; "
          "the Chroma server is not included")
    return 0


if __name__ == "__main__":
    sys.exit(main())
