"""The answer path does not depend on the HTTP layer: no module of service/rag/ imports the routes,
the edge, the operations side, the app, or a web framework. They import rag/, never the reverse
(rag/ exposes what they need: the request and answer types, the stage observer)."""

import ast
from pathlib import Path

import pytest

import service.rag

RAG = Path(service.rag.__file__).parent
FORBIDDEN = ("service.api", "service.edge", "service.ops", "service.app", "service.main", "service.serve",
             "fastapi", "starlette", "sse_starlette", "uvicorn")


def imported_modules(path: Path, package: str) -> set[str]:
    """Every module `path` imports, anywhere in it (a function's lazy import too), as an absolute
    name; `from a import b` counts as both `a` and `a.b` (b may be a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package, one level up per extra dot
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def forbidden_imports(root: Path, package: str) -> dict[str, list[str]]:
    """{file relative to root: the forbidden modules it imports} for every .py file under root."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        sub = ".".join([package, *path.relative_to(root).parent.parts])
        bad = sorted(m for m in imported_modules(path, sub)
                     if any(m == f or m.startswith(f + ".") for f in FORBIDDEN))
        if bad:
            out[str(path.relative_to(root))] = bad
    return out


def test_rag_imports_nothing_of_the_http_layer():
    assert len(list(RAG.rglob("*.py"))) > 10  # the walk sees the package
    assert forbidden_imports(RAG, "service.rag") == {}


@pytest.mark.parametrize(("source", "caught"), [
    ("from service.api.schemas import ChatRequest", ["service.api.schemas", "service.api.schemas.ChatRequest"]),
    ("import service.ops.metrics", ["service.ops.metrics"]),
    ("from service import edge", ["service.edge"]),
    ("from ..api import deps", ["service.api", "service.api.deps"]),
    ("def lazy():\n    from starlette.concurrency import run_in_threadpool",
     ["starlette.concurrency", "starlette.concurrency.run_in_threadpool"]),
    ("import fastapi", ["fastapi"]),
    ("from sse_starlette import ServerSentEvent", ["sse_starlette", "sse_starlette.ServerSentEvent"]),
])
def test_every_form_of_import_is_caught(tmp_path, source, caught):
    (tmp_path / "mod.py").write_text(source + "\n", encoding="utf-8")
    assert forbidden_imports(tmp_path, "service.rag") == {"mod.py": caught}


@pytest.mark.parametrize("source", [
    "from service.rag.chat_types import ChatRequest",
    "from . import stages",
    "import anyio.to_thread",
    "from ingest import store",
    "import starlette_like",  # only the package itself and its submodules are the web framework
    "from service.apiary import bees",
])
def test_what_rag_may_import_is_not_caught(tmp_path, source):
    (tmp_path / "mod.py").write_text(source + "\n", encoding="utf-8")
    assert forbidden_imports(tmp_path, "service.rag") == {}
