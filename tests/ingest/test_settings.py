"""The ingest side's settings: the validators moved with their fields (one name each: a subclass's
validator of the same name would replace its parent's)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from ingest.settings import IndexSettings, IngestSettings


def test_validators_live_with_their_fields(monkeypatch):
    monkeypatch.setenv("HOME", "/home/someone")
    assert IndexSettings(_env_file=None, chroma_path=Path("~/chroma")).chroma_path == Path("/home/someone/chroma")
    ingest = IngestSettings(_env_file=None, chroma_path=Path("~/c"), transcripts_dir=Path("~/t"))
    assert (ingest.chroma_path, ingest.transcripts_dir) == (Path("/home/someone/c"), Path("/home/someone/t"))
    with pytest.raises(ValidationError, match="API_KEY must be at least 16 characters"):
        IngestSettings(_env_file=None, api_key=SecretStr("short"))
