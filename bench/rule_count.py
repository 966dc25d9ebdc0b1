"""Count the hand-written rules of question analysis, parsing, ranking and answering (issue 20): the
regexes, the word lists and the hand-set numbers, at a commit or in the working tree.

- regex: a `re.compile(...)` call, or a module-level string passed to `re.*` functions by name;
- word list: a set, frozenset, tuple or list literal (or a dict's keys) of two or more lower-case
  words, at module or class level;
- hand-set number: a module- or class-level NAME = number other than 0 and 1, except sizes of
  caches, pages, timeouts, limits of input and HTTP statuses (they bound work, they judge no text).

examples:
  python bench/rule_count.py                 the working tree
  python bench/rule_count.py f5c0ca6 HEAD    two commits side by side
"""

from __future__ import annotations

import ast
import fnmatch
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = ["service/rag/*.py", "ingest/parse.py", "ingest/speakers.py", "ingest/chunk.py"]
NOT_RULES = re.compile(r"CACHE|PAGE|BATCH|TIMEOUT|SECONDS|MAX_|_MAX|LIMIT|VERSION|BYTES|WORKERS|LOAD|^STATUS$")


def sources(commit: str | None) -> dict[str, str]:
    if commit is None:
        return {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8")
                for pattern in FILES for p in sorted(ROOT.glob(pattern))}
    names = subprocess.run(["git", "ls-tree", "-r", "--name-only", commit], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.split()
    wanted = [n for n in names if any(fnmatch.fnmatch(n, p) for p in FILES)]
    return {n: subprocess.run(["git", "show", f"{commit}:{n}"], cwd=ROOT, check=True, capture_output=True,
                              text=True).stdout for n in wanted}


def words_literal(node: ast.AST) -> bool:
    elts = node.elts if isinstance(node, (ast.Set, ast.Tuple, ast.List)) else (
        node.keys if isinstance(node, ast.Dict) else [])
    strs = [e.value for e in elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return len(strs) >= 2 and len(strs) == len(elts) and sum(s.islower() for s in strs) >= 2


def count(source: str) -> dict[str, int]:
    tree = ast.parse(source)
    regexes = sum(1 for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                  and n.func.attr == "compile" and getattr(n.func.value, "id", "") == "re")
    lists = numbers = 0
    scopes = [tree.body] + [c.body for c in tree.body if isinstance(c, ast.ClassDef)]
    for body in scopes:
        for stmt in body:
            if not isinstance(stmt, (ast.Assign, ast.AnnAssign)) or stmt.value is None:
                continue
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            name = getattr(targets[0], "id", "")
            value = stmt.value
            if isinstance(value, ast.Call) and getattr(value.func, "id", "") in ("frozenset", "set", "tuple") \
                    and value.args:
                value = value.args[0]
            if words_literal(value):
                lists += 1
            elif isinstance(value, ast.Constant) and isinstance(value.value, (int, float)) \
                    and not isinstance(value.value, bool) and value.value not in (0, 1) \
                    and not NOT_RULES.search(name.upper()):
                numbers += 1
    return {"regexes": regexes, "word lists": lists, "hand-set numbers": numbers}


def totals(commit: str | None) -> dict[str, int]:
    out = {"regexes": 0, "word lists": 0, "hand-set numbers": 0}
    for text in sources(commit).values():
        for k, v in count(text).items():
            out[k] += v
    return out


def main(argv: list[str]) -> int:
    commits = argv or [None]
    rows = {c or "working tree": totals(c) for c in commits}
    keys = ["regexes", "word lists", "hand-set numbers"]
    print("| code | " + " | ".join(keys) + " |\n|---|" + "---|" * len(keys))
    for name, t in rows.items():
        print(f"| {name} | " + " | ".join(str(t[k]) for k in keys) + " |")
    print("\nfiles: " + ", ".join(FILES))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
