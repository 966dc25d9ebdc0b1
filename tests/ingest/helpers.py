"""Helpers the parser tests share."""

from __future__ import annotations

from pathlib import Path

from ingest.formats import parse_file
from ingest.parse import Transcript


def parse_written(tmp_path: Path, name: str, content: str) -> Transcript:
    """Write `content` to tmp_path/name and parse it as a transcript file of that name."""
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return parse_file(path, path.stem)
