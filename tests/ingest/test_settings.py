"""The ingest side's settings: a keyword that is not a field of the class is refused (the `.env`
file may hold every owner's names, keywords may not), and the validators moved with their fields."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from ingest.settings import IndexSettings, IngestSettings


@pytest.mark.parametrize(("cls", "values", "refused"), [
    (IngestSettings, {"chat_rate_limit": 0}, "chat_rate_limit"),  # a service setting
    (IndexSettings, {"transcripts_dir": Path("t"), "write_batch_size": 8}, "transcripts_dir, write_batch_size"),
    (IngestSettings, {"abstain_threshold": 0.0}, "abstain_threshold"),  # a setting that no longer exists
])
def test_a_keyword_the_class_does_not_have_is_refused(cls, values, refused):
    with pytest.raises(TypeError, match=f"^{cls.__name__} has no setting {refused}$"):
        cls(_env_file=None, **values)


def test_the_fields_keywords_and_the_sources_own_options_pass():
    settings = IngestSettings(_env_file=None, chroma_path=Path("c"), write_batch_size=8)
    assert (settings.chroma_path, settings.write_batch_size) == (Path("c"), 8)


def test_validators_live_with_their_fields(monkeypatch):
    monkeypatch.setenv("HOME", "/home/someone")
    assert IndexSettings(_env_file=None, chroma_path=Path("~/chroma")).chroma_path == Path("/home/someone/chroma")
    ingest = IngestSettings(_env_file=None, chroma_path=Path("~/c"), transcripts_dir=Path("~/t"))
    assert (ingest.chroma_path, ingest.transcripts_dir) == (Path("/home/someone/c"), Path("/home/someone/t"))
    with pytest.raises(ValidationError, match="API_KEY must be at least 16 characters"):
        IngestSettings(_env_file=None, api_key=SecretStr("short"))
