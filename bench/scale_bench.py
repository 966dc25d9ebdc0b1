"""The service at the scale of the QMSum committee folder (36 hearings, 3 MB): issue item 6.

Every figure is measured in one run, beside the floor it is compared with:

- ingest throughput: the whole folder through `ingest.sync.sync_paths` (parse, chunk, embed, write)
  into an empty temporary store, against a raw sentence-transformers encode of the same chunk
  texts (`embedder.encode([c.embed_text ...])`: same model, batch size and threads) measured just
  before it; ratio = raw encode seconds / ingest seconds (target >= 0.85). Bytes/s beside the
  LangChain tutorial's (bench/langchain_tutorial.py: split 1000/200, embed, langchain-chroma),
  from its own ingest of the same folder in this run.
- a no-change re-sync of the ingested folder: `sync_paths` again, median of 3 (target < 2 s), in
  this process right after the ingest, and in a fresh process each time, as `rag-ingest` runs it
  (the time of `sync_paths` alone; opening the store is shown beside it).
- `/v1/chat` on first-time questions: the real app (`service.serve.served_app`, its lifespan,
  rag-serve's uvicorn options) in this process on a free 127.0.0.1 port; every qmsum-val and
  qmsum-train question asked once, as a user would (no filters). Right after each request the
  floor for the same question, in this process: one query encode (`embedder.encode([q])`, the
  project's embedder) + one Chroma query of the chunk collection (`n_results` = CANDIDATES, 30;
  ids and distances, as the service reads them; the same query with Chroma's default include,
  documents and metadatas too, is timed beside it). The questions are dealt into 3 disjoint
  groups (every 3rd): p50, p95 and floor are the median over the groups.
- memory: `python -m service.serve --no-ingest` (rag-serve, one worker) in a subprocess on the
  ingested index; its VmRSS after start-up and VmHWM (peak RSS) after answering every question
  again (first-time for that process), from /proc (target < 1.2 GB). Its p50 over HTTP from
  this process, with the floor measured the same way, is printed as a cross-check.

The load average (1/5/15 min) is printed at the start and end: the machine may be shared.

examples:
  python bench/scale_bench.py                       everything, 20-23 minutes here (load 3-4)
  python bench/scale_bench.py --chroma DIR          use an index already ingested from the folder
                                                    (bench/compare_pipelines.py --keep-chroma DIR): no ingest figures
  python bench/scale_bench.py --no-tutorial         without the tutorial's ingest (~5 minutes less)
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import numpy as np

from bench.qmsum_common import (
    CORPUS,
    ROOT,
    SHARED,
    code_state,
    folder_bytes,
    load_split,
    load_text,
    log,
    md_table,
    service_ingest,
    transcript_files,
    tutorial_drop,
    tutorial_ingest,
)

TARGET_RATIO = 0.85
TARGET_RESYNC_S = 2.0
TARGET_RSS_GB = 1.2
TARGET_P50_FLOOR = 2.0  # issue 12: first-time questions, p50 ≤ 2× (one query encode + one Chroma query)
GROUPS = 3


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def questions() -> list[str]:
    """Every qmsum-val and qmsum-train question, once each (first-time questions), val first."""
    seen: dict[str, None] = {}
    for split in ("val", "train"):
        for c in load_split(split):
            seen.setdefault(c["question"].strip(), None)
    return list(seen)


def warmup_questions() -> list[str]:
    """Not measured: the first requests pay one-time costs. The dev cases are about another
    transcript (not in this index), so they share no question with the measured ones."""
    import json

    path = SHARED / "eval" / "dev.jsonl"
    qs = [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return qs[:10] or ["What is this about?"]


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM of a process, kB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(rest.split()[0])
    return out


def children(pid: int) -> list[int]:
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(k) for k in kids]


# --- the floor ----------------------------------------------------------------------------------
class Floor:
    """One query encode + one Chroma query of the chunk collection, in this process."""

    def __init__(self, embedder, collection, n_results: int):
        self.embedder, self.collection, self.n = embedder, collection, n_results

    def __call__(self, question: str) -> tuple[float, float]:
        """(encode + query of ids and distances, encode + query with Chroma's default include), ms."""
        t = time.perf_counter()
        v = self.embedder.encode([question])[0]
        enc = time.perf_counter() - t
        t = time.perf_counter()
        self.collection.query(query_embeddings=[v], n_results=self.n, include=["distances"])
        q_ids = time.perf_counter() - t
        t = time.perf_counter()
        self.collection.query(query_embeddings=[v], n_results=self.n)
        q_all = time.perf_counter() - t
        return (enc + q_ids) * 1000, (enc + q_all) * 1000


def ask_all(url: str, qs: list[str], floor: Floor) -> dict:
    """POST /v1/chat for each question once, the floor for the same question right after it."""
    lat, fl, fl_all, errors = [], [], [], 0
    stages: dict[str, list[float]] = {"retrieval_ms": [], "generation_ms": [], "total_ms": []}
    with httpx.Client(base_url=url, timeout=120) as http:
        for q in warmup_questions():
            http.post("/v1/chat", json={"messages": [{"role": "user", "content": q}]}).raise_for_status()
        t0 = time.perf_counter()
        for i, q in enumerate(qs):
            t = time.perf_counter()
            try:
                r = http.post("/v1/chat", json={"messages": [{"role": "user", "content": q}]})
                body = r.json()
                ok = r.status_code == 200 and "answer" in body
            except (httpx.HTTPError, ValueError):
                ok = False
            ms = (time.perf_counter() - t) * 1000
            if ok:
                for k, v in stages.items():
                    v.append(float(body.get("timings", {}).get(k) or 0.0))
            if not ok:
                errors += 1
                lat.append(float("nan"))
            else:
                lat.append(ms)
            a, b = floor(q)
            fl.append(a)
            fl_all.append(b)
            if (i + 1) % 100 == 0:
                log(f"  {i + 1}/{len(qs)} questions, {time.perf_counter() - t0:.0f} s")
    groups = [list(range(g, len(qs), GROUPS)) for g in range(GROUPS)]
    pct = lambda xs, p: float(np.nanpercentile(np.array(xs), p))
    per = [{"p50": pct([lat[i] for i in g], 50), "p95": pct([lat[i] for i in g], 95),
            "floor": pct([fl[i] for i in g], 50), "floor_all": pct([fl_all[i] for i in g], 50)} for g in groups]
    med = {k: statistics.median(p[k] for p in per) for k in per[0]}
    return {**med, "groups": per, "errors": errors, "n": len(qs),
            "stages": {k: statistics.median(v) for k, v in stages.items() if v},
            "p50_all": pct(lat, 50), "floor_p50_all": pct(fl, 50)}


# --- the app in this process ---------------------------------------------------------------------
def in_process(settings, qs: list[str], floor: Floor) -> dict:
    import uvicorn

    from service.edge.connections import ServeConfig, uvicorn_options
    from service.serve import served_app

    port = free_port()
    config = ServeConfig(served_app(settings), host="127.0.0.1", port=port, **uvicorn_options(settings))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    t = time.perf_counter()
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the in-process service did not start")
        time.sleep(0.1)
    startup = time.perf_counter() - t
    log(f"in-process service ready in {startup:.1f} s on port {port}; asking {len(qs)} questions")
    try:
        out = ask_all(f"http://127.0.0.1:{port}", qs, floor)
    finally:
        server.should_exit = True
        thread.join(60)
    return {**out, "startup_s": startup}


# --- rag-serve in a subprocess -------------------------------------------------------------------
def snapshot_code(work: Path) -> Path:
    """A copy of the code as it is when the run starts (ingest/, service/, prompts/), for the
    subprocess: the in-process app imported it at the start, so both serve the same code even if
    the working tree changes during the run."""
    import shutil

    dest = work / "code"
    for name in ("ingest", "service", "prompts"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


FRESH_RESYNC = """
import json, sys, time
from pathlib import Path
from ingest import store as ix
from ingest.embed import load_embedder
from ingest.settings import IngestSettings
from ingest.sync import sync_paths
settings = IngestSettings(transcripts_dir=Path(sys.argv[1]), chroma_path=Path(sys.argv[2]))
t = time.perf_counter()
client = ix.chroma_client(settings)
opened = time.perf_counter() - t
embedder = load_embedder(settings, lazy=True)  # as rag-ingest: nothing to embed, no model
t = time.perf_counter()
report = sync_paths([settings.transcripts_dir], settings, embedder, client)
print(json.dumps({"open": opened, "sync": time.perf_counter() - t,
                  "changed": report.added + report.updated + report.deleted}))
"""


def fresh_resync(code: Path, folder: Path, chroma: Path) -> dict:
    """A no-change re-sync in a new process (the snapshot's code): what `rag-ingest` does."""
    import json

    env = {**os.environ, "PYTHONPATH": str(code), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", FRESH_RESYNC, str(folder), str(chroma)], env=env, cwd=code,
                         capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["changed"] == 0, got
    return got


def subprocess_service(settings, work: Path, code: Path, qs: list[str], floor: Floor) -> dict:
    port = free_port()
    env = {**os.environ, "CHROMA_PATH": str(settings.chroma_path), "TRANSCRIPTS_DIR": str(settings.transcripts_dir),
           "PYTHONPATH": str(code), "HF_HUB_OFFLINE": "1", "HOST": "127.0.0.1", "PORT": str(port),
           "CHAT_RATE_LIMIT": "0"}  # its questions come one after another, from loopback
    env.pop("CHROMA_HOST", None)
    logfile = work / "rag-serve.log"
    cmd = [sys.executable, "-m", "service.serve", "--no-ingest", "--host", "127.0.0.1", "--port", str(port)]
    with open(logfile, "wb") as lf:
        proc = subprocess.Popen(cmd, env=env, cwd=work, stdout=lf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        t = time.perf_counter()
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"rag-serve exited {proc.returncode}:\n{logfile.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.perf_counter() - t > 300:
                raise RuntimeError(f"rag-serve not ready in 300 s:\n{logfile.read_text()[-3000:]}")
            time.sleep(0.3)
        startup = time.perf_counter() - t
        at_start = proc_status(proc.pid)
        log(f"rag-serve (pid {proc.pid}) ready in {startup:.1f} s, VmRSS {at_start['VmRSS'] / 1024:.0f} MiB; "
            f"asking {len(qs)} questions")
        out = ask_all(url, qs, floor)
        at_end = proc_status(proc.pid)
        kids = children(proc.pid)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)  # the process this function started, by its pid
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)
    return {**out, "startup_s": startup, "rss_start_kb": at_start["VmRSS"], "hwm_start_kb": at_start["VmHWM"],
            "rss_end_kb": at_end["VmRSS"], "hwm_end_kb": at_end["VmHWM"], "children": kids}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="examples:" + __doc__.split("examples:")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=CORPUS, help="the transcripts (default: the 36 hearings)")
    parser.add_argument("--chroma", type=Path, help="an index already ingested from --folder: skip the ingest "
                        "figures (throughput needs a real ingest)")
    parser.add_argument("--no-tutorial", action="store_true", help="skip the LangChain tutorial's ingest")
    parser.add_argument("--questions", type=int, help="ask only the first N questions (a quick look)")
    parser.add_argument("--resyncs", type=int, default=3, help="no-change re-syncs; median (default 3)")
    args = parser.parse_args(argv)

    from ingest import store as ix
    from ingest.embed import load_embedder
    from ingest.settings import IndexSettings
    from ingest.sync import plan_sync, sync_paths
    from service.settings import ServiceSettings

    started = time.perf_counter()
    load_start = load_text()
    qs = questions()[: args.questions]
    size = folder_bytes(args.folder)
    n_files = len(transcript_files(args.folder))
    embedder = load_embedder(IndexSettings())
    work = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    res: dict = {"threads": IndexSettings().embed_threads}
    try:
        import service.serve  # noqa: F401  the app's code as it is now, and a copy of it (snapshot_code)

        code = snapshot_code(work)
        res["code"] = code_state()
        chroma = args.chroma or work / "chroma"
        settings = ServiceSettings(transcripts_dir=args.folder, chroma_path=chroma)
        client = ix.chroma_client(settings)
        if not args.chroma:
            # The floor: a raw encode of the exact chunk texts the ingest will embed.
            plan = plan_sync([args.folder], settings, ix.open_collection(client, settings, ix.CHUNK_SUFFIX))
            texts = [c.embed_text for p in plan.plans for c in p.added]
            res["raw_load"] = load_text()
            log(f"raw encode of {len(texts)} chunk texts (batch {embedder.batch_size})")
            t = time.perf_counter()
            embedder.encode(texts)
            res["raw_s"] = time.perf_counter() - t
            res["chunks"] = len(texts)
            res["ingest_load"] = load_text()
            log(f"raw encode {res['raw_s']:.0f} s; the service's ingest of the folder")
            ing = service_ingest(args.folder, chroma, embedder)
            res["ingest_s"] = ing["seconds"]
            res["sentences"] = sum(len(c.sentences) for p in plan.plans for c in p.added)
            assert ing["chunks"] == len(texts), (ing["chunks"], len(texts))
            log(f"ingest {res['ingest_s']:.0f} s")
        resyncs = []
        for _ in range(args.resyncs):
            t = time.perf_counter()
            again = sync_paths([args.folder], settings, embedder, client)
            resyncs.append(time.perf_counter() - t)
            assert again.added == again.updated == again.deleted == 0, again.summary()
        res["resync_s"], res["resyncs"] = statistics.median(resyncs), resyncs
        log("re-syncs: " + ", ".join(f"{s:.2f} s" for s in resyncs))
        res["fresh_resyncs"] = [fresh_resync(code, args.folder, chroma) for _ in range(args.resyncs)]
        log("re-syncs in a fresh process: " + ", ".join(f"{r['sync']:.2f} s" for r in res["fresh_resyncs"]))
        if not args.no_tutorial:
            res["tutorial_load"] = load_text()
            log("the LangChain tutorial's ingest of the folder")
            tut = tutorial_ingest(args.folder, embedder, name=f"scale-tutorial-{os.getpid()}")
            res["tutorial_s"], res["tutorial_chunks"] = tut["seconds"], tut["chunks"]
            tutorial_drop(tut)
            log(f"tutorial ingest {tut['seconds']:.0f} s ({tut['chunks']} splits)")
        generation = ix.read_state(client, settings).generation
        floor = Floor(embedder, ix.open_collection(client, settings, ix.CHUNK_SUFFIX, generation), settings.candidates)
        res["chat_load"] = load_text()
        res["chat"] = in_process(settings, qs, floor)
        res["serve_load"] = load_text()
        res["serve"] = subprocess_service(settings, work, code, qs, floor)
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    load_end = load_text()
    minutes = (time.perf_counter() - started) / 60
    print(table(res, args, len(qs), size, n_files, load_start, load_end, minutes))
    return 0


def table(res: dict, args, n_q: int, size: int, n_files: int, load_start: str, load_end: str, minutes: float) -> str:
    ok = lambda b: "pass" if b else "FAIL"
    rows = []
    c, s = res["chat"], res["serve"]
    ratio = c["p50"] / c["floor"]
    rows.append([f"`/v1/chat` p50, {n_q} first-time questions (app in process, HTTP)", f"{c['p50']:.1f} ms",
                 f"floor {c['floor']:.1f} ms: p50/floor **{ratio:.2f}×**", f"≤ {TARGET_P50_FLOOR}×",
                 ok(ratio <= TARGET_P50_FLOOR)])
    rows.append(["`/v1/chat` p95 (same requests)", f"{c['p95']:.1f} ms", f"p95/floor {c['p95'] / c['floor']:.2f}×", "–", "–"])
    rows.append(["floor with Chroma's default include (documents, metadatas)", f"{c['floor_all']:.1f} ms",
                 f"p50/this floor {c['p50'] / c['floor_all']:.2f}×", "–", "–"])
    sr = s["p50"] / s["floor"]
    rows.append(["`/v1/chat` p50, rag-serve subprocess (cross-check)", f"{s['p50']:.1f} ms",
                 f"floor {s['floor']:.1f} ms: p50/floor {sr:.2f}×; p95 {s['p95']:.1f} ms", f"≤ {TARGET_P50_FLOOR}×",
                 ok(sr <= TARGET_P50_FLOOR)])
    if "ingest_s" in res:
        r = res["raw_s"] / res["ingest_s"]
        rows.append([f"ingest of the folder ({res['chunks']:,} chunks, {res['sentences']:,} sentences)",
                     (f"{res['ingest_s']:.0f} s: {res['chunks'] / res['ingest_s']:.1f} chunks/s, "
                     f"{size / res['ingest_s'] / 1000:.1f} kB/s"),
                     (f"raw encode of the chunk texts {res['raw_s']:.0f} s ({res['chunks'] / res['raw_s']:.1f} chunks/s): "
                     f"ratio **{r:.2f}**"), f"≥ {TARGET_RATIO}", ok(r >= TARGET_RATIO)])
    else:
        rows.append(["ingest of the folder", "not measured (--chroma)", "–", f"≥ {TARGET_RATIO}", "–"])
    if "tutorial_s" in res:
        rows.append([f"LangChain tutorial's ingest of the folder ({res['tutorial_chunks']:,} splits)",
                     f"{res['tutorial_s']:.0f} s: {size / res['tutorial_s'] / 1000:.1f} kB/s",
                     (f"service/tutorial bytes/s {res['tutorial_s'] / res['ingest_s']:.2f}×" if "ingest_s" in res else "–"),
                     "–", "–"])
    where = "in this process after the ingest" if "ingest_s" in res else "in this process"
    rows.append([f"no-change re-sync of the folder, {where} (median of {len(res['resyncs'])})", f"{res['resync_s']:.2f} s",
                 "runs " + ", ".join(f"{x:.2f}" for x in res["resyncs"]) + " s", f"< {TARGET_RESYNC_S:.0f} s",
                 ok(res["resync_s"] < TARGET_RESYNC_S)])
    fresh = [r["sync"] for r in res["fresh_resyncs"]]
    rows.append([f"the same in a fresh process each time, as `rag-ingest` (median of {len(fresh)})",
                 f"{statistics.median(fresh):.2f} s", "runs " + ", ".join(f"{x:.2f}" for x in fresh)
                 + " s; opening the store " + ", ".join(f"{r['open']:.2f}" for r in res["fresh_resyncs"]) + " s",
                 f"< {TARGET_RESYNC_S:.0f} s", ok(statistics.median(fresh) < TARGET_RESYNC_S)])
    gb = lambda kb: kb * 1024 / 1e9
    rows.append([f"RSS of rag-serve: peak (VmHWM) after answering the {n_q} questions",
                 f"{gb(s['hwm_end_kb']):.2f} GB ({s['hwm_end_kb'] / 1024:.0f} MiB)",
                 f"after start-up {s['rss_start_kb'] / 1024:.0f} MiB, at the end {s['rss_end_kb'] / 1024:.0f} MiB"
                 + (f"; children {s['children']}" if s["children"] else "; one process"),
                 f"< {TARGET_RSS_GB} GB", ok(gb(s["hwm_end_kb"]) < TARGET_RSS_GB)])
    rows.append(["load average (1 / 5 / 15 min)", f"start {load_start}", f"end {load_end}", "–", "–"])
    head = (f"\n### Scale: {n_files} transcripts ({size / 1e6:.2f} MB), {n_q} questions (qmsum-val + train, each "
            f"asked once per service), {os.cpu_count()} CPUs, EMBED_THREADS={res.get('threads', 1)}; code {res['code']}\n")
    notes = [f"p50/p95/floor: median over {GROUPS} disjoint groups of the questions (per group: "
             + "; ".join(f"{g['p50']:.1f}/{g['p95']:.1f}/{g['floor']:.1f}" for g in c["groups"])
             + f" ms); over all questions p50 {c['p50_all']:.1f} ms, floor {c['floor_p50_all']:.1f} ms; errors "
             f"{c['errors']} in process, {s['errors']} subprocess. Service start-up: {c['startup_s']:.1f} s in process, "
             f"{s['startup_s']:.1f} s as rag-serve. The service's own timings (median, in process): "
             + ", ".join(f"{k} {v:.1f}" for k, v in c["stages"].items()) + "."]
    if "ingest_s" in res:
        notes.append(f"Ingest and its floor: one run each (load average before the raw encode {res['raw_load']}, "
                     f"before the ingest {res['ingest_load']}"
                     + (f", before the tutorial {res['tutorial_load']}" if "tutorial_load" in res else "") + ").")
    notes.append(f"Load average before the in-process questions {res['chat_load']}, before rag-serve {res['serve_load']}. "
                 f"Whole run {minutes:.1f} min.")
    return head + "\n" + md_table(["figure", "value", "floor / reference", "target", ""], rows) + "\n\n" + "\n".join(notes)


if __name__ == "__main__":
    sys.exit(main())
