"""Soak: concurrent clients against `rag-serve` on loopback, with a re-ingest in the middle.

    python -m bench.soak                          # 16 clients, 5 minutes, re-ingest half way
    python -m bench.soak --clients 8 --seconds 60

Starts the service (the real `rag-serve`, built-in answerer) on a free 127.0.0.1 port over a
fresh index of data/transcripts in a temporary folder, then runs N client threads that ask
questions in a loop (every 4th one streamed). Half way through it drops a new transcript into the
folder and calls POST /v1/ingest while the clients keep asking. Prints one row per phase (before,
during and after the re-ingest): requests, failures, p50/p95/max latency, and the service's RSS.
Loopback only: nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "transcripts" / "alibaba-cloud-xuan-jin.txt"
QUESTIONS = [
    "When was Alibaba Cloud started?",
    "Where did Xuan Jin work before Alibaba?",
    "Which cities have Alibaba Cloud offices in Europe?",
    "What does Alibaba look for when recruiting?",
    "How fast is Alibaba Cloud growing?",
    "What does an ECS instance cost per hour?",  # abstains
    "Who inspires Xuan Jin?",
    "What are the challenges of entering the European market?",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Service:
    """`python -m service.serve` on a free loopback port over `folder`'s transcripts."""

    def __init__(self, work: Path, folder: Path, **env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = work / "serve.log"
        # CHAT_RATE_LIMIT=0: every soak client asks from loopback, as fast as it is answered
        settings = {"CHROMA_PATH": str(work / "chroma"), "TRANSCRIPTS_DIR": str(folder), "ANSWER_MODE": "extractive",
                    "HOST": "127.0.0.1", "ACCESS_LOG": "false", "CHAT_RATE_LIMIT": "0",
                    **{k.upper(): str(v) for k, v in env.items()}}
        with self.log.open("wb") as out:  # rag-serve ingests the folder first (the index is empty)
            self.proc = subprocess.Popen([sys.executable, "-m", "service.serve", "--port", str(self.port)],
                                         env={**os.environ, "HF_HUB_OFFLINE": "1", **settings},
                                         stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rag-serve exited:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        raise RuntimeError("rag-serve did not start in 300 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Sample:
    started: float
    seconds: float
    ok: bool
    what: str = ""


@dataclass
class Result:
    samples: list[Sample] = field(default_factory=list)
    rss: list[tuple[float, float]] = field(default_factory=list)  # (time, MB)
    ingest: tuple[float, float] = (0.0, 0.0)  # start, end
    ingest_status: int = 0
    ingest_body: dict = field(default_factory=dict)

    def phase(self, name: str) -> list[Sample]:
        start, end = self.ingest
        pick = {"before": lambda s: s.started < start, "during": lambda s: start <= s.started < end,
                "after": lambda s: s.started >= end}[name]
        return [s for s in self.samples if pick(s)]

    @property
    def failures(self) -> list[Sample]:
        return [s for s in self.samples if not s.ok]

    def rss_at(self, name: str) -> float:
        start, end = self.ingest
        t = {"before": start, "during": end, "after": float("inf")}[name]
        seen = [mb for when, mb in self.rss if when <= t]
        return seen[-1] if seen else 0.0

    def rss_in(self, name: str) -> list[float]:
        start, end = self.ingest
        pick = {"before": lambda t: t < start, "during": lambda t: start <= t < end, "after": lambda t: t >= end}[name]
        return [mb for when, mb in self.rss if when >= 0 and pick(when)]

    def table(self) -> str:
        rows = ["phase    requests  failed    p50 ms    p95 ms    max ms   RSS MB"]
        for name in ("before", "during", "after"):
            lat = sorted(s.seconds * 1000 for s in self.phase(name))
            failed = sum(not s.ok for s in self.phase(name))
            p = (lambda q, lat=lat: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else 0.0)
            rows.append(f"{name:8} {len(lat):9d} {failed:7d} {p(0.5):9.0f} {p(0.95):9.0f} "
                        f"{(lat[-1] if lat else 0):9.0f} {self.rss_at(name):8.0f}")
        return "\n".join(rows)


def p95(samples: list[Sample]) -> float:
    lat = sorted(s.seconds for s in samples)
    return lat[min(len(lat) - 1, int(0.95 * len(lat)))] if lat else 0.0


def ask(http: httpx.Client, question: str, stream: bool) -> tuple[bool, str]:
    payload = {"messages": [{"role": "user", "content": question}], "stream": stream}
    if not stream:
        r = http.post("/v1/chat", json=payload)
        return r.status_code == 200 and bool(r.json().get("answer")), f"HTTP {r.status_code}"
    with http.stream("POST", "/v1/chat", json=payload) as r:
        events = [line[7:] for line in r.iter_lines() if line.startswith("event: ")]
    return r.status_code == 200 and events[-1:] == ["done"], f"HTTP {r.status_code} {events[-1:]}"


def run(service: Service, folder: Path, clients: int, seconds: float, reingest_at: float = 0.5,
        stream_every: int = 4, warmup: float = 3.0) -> Result:
    """Clients ask for `seconds`; at `reingest_at` of it a new transcript is ingested."""
    result = Result()
    lock = threading.Lock()
    stop = threading.Event()
    t0 = time.monotonic() + warmup  # the measured window starts after a short warm-up

    def client(i: int) -> None:
        with httpx.Client(base_url=service.url, timeout=120) as http:
            n = i
            while not stop.is_set():
                question = QUESTIONS[n % len(QUESTIONS)]
                started = time.monotonic()
                try:
                    ok, what = ask(http, question, stream=(n % stream_every == 0))
                except httpx.HTTPError as exc:
                    ok, what = False, f"{type(exc).__name__}: {exc}"
                n += 1
                if started >= t0:
                    with lock:
                        result.samples.append(Sample(started - t0, time.monotonic() - started, ok, what))

    def memory() -> None:
        while not stop.is_set():
            result.rss.append((time.monotonic() - t0, rss_mb(service.proc.pid)))
            stop.wait(1.0)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    threads.append(threading.Thread(target=memory, daemon=True))
    for t in threads:
        t.start()
    time.sleep(warmup + seconds * reingest_at)
    text = SAMPLE.read_text(encoding="utf-8").replace("Alibaba", "Alibabá").replace("2009", "2010")
    (folder / "soak-extra.txt").write_text(text, encoding="utf-8")
    start = time.monotonic() - t0
    r = httpx.post(f"{service.url}/v1/ingest", timeout=600)
    result.ingest = (start, time.monotonic() - t0)
    result.ingest_status, result.ingest_body = r.status_code, r.json()
    remaining = t0 + seconds - time.monotonic()
    time.sleep(max(remaining, seconds * (1 - reingest_at) / 2))  # always some time after the ingest
    stop.set()
    for t in threads:
        t.join(150)
    return result


def soak(clients: int, seconds: float, work: Path | None = None, **kw) -> tuple[Result, Service]:
    """Start rag-serve in a fresh folder, soak it, stop it; returns the result (and the stopped service)."""
    own = work is None
    work = work or Path(tempfile.mkdtemp(prefix="soak-"))
    folder = work / "transcripts"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(SAMPLE, folder / SAMPLE.name)
    service = Service(work, folder)
    try:
        return run(service, folder, clients, seconds, **kw), service
    finally:
        service.stop()
        if own:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="example: python -m bench.soak --clients 16 --seconds 300")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--seconds", type=float, default=300, help="measured duration (default 300)")
    parser.add_argument("--reingest-at", type=float, default=0.5, help="when to re-ingest, as a fraction (0.5)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    started = time.monotonic()
    result, _ = soak(args.clients, args.seconds, reingest_at=args.reingest_at)
    rss = [mb for _, mb in result.rss]
    print(f"soak: {args.clients} clients, {args.seconds:g} s measured (after a 3 s warm-up), re-ingest at "
          f"{result.ingest[0]:.0f}–{result.ingest[1]:.0f} s -> HTTP {result.ingest_status} "
          f"(added {result.ingest_body.get('added')}); wall {time.monotonic() - started:.0f} s")
    print(result.table())
    total = len(result.samples)
    print(f"requests {total}, failed {len(result.failures)}, throughput {total / args.seconds:.1f}/s; RSS min "
          f"{min(rss, default=0):.0f} MB, max {max(rss, default=0):.0f} MB, last {rss[-1] if rss else 0:.0f} MB "
          f"(median {statistics.median(rss) if rss else 0:.0f})")
    for s in result.failures[:10]:
        print(f"  failed at {s.started:.1f} s: {s.what}")
    return 0 if not result.failures and result.ingest_status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
