"""Who owns an embedded Chroma store: Chroma's embedded mode is not safe with two writers.

A running service holds an exclusive `flock` on `<CHROMA_PATH>/owner.lock` for its lifetime and
writes its pid and URL into it; `rag-ingest` takes the same lock for its run. The kernel drops
the lock when the holder dies, so a killed process never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path


class StoreBusy(RuntimeError):
    def __init__(self, owner: dict):
        self.owner = owner
        super().__init__(f"the store is in use by {owner.get('kind', 'another process')} (pid {owner.get('pid')})")


class StoreLock:
    def __init__(self, chroma_path: Path):
        self.path = Path(chroma_path) / "owner.lock"
        self._fd: int | None = None

    def acquire(self, **owner) -> None:
        """Take the lock or raise StoreBusy with what the holder wrote."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreBusy(self.read_owner()) from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), **owner}).encode())
        self._fd = fd

    def read_owner(self) -> dict:
        try:
            return json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return {}

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
