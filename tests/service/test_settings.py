"""Settings are split by owner (ingest/settings.py: IndexSettings, IngestSettings; service/settings.py:
ServiceSettings): every field is defined once, in the class of whoever reads it, and each side's
code reads only fields its class has."""

from __future__ import annotations

import ast
import inspect
import json
import re
from pathlib import Path

import pytest

from ingest.settings import IndexSettings, IngestSettings
from service.settings import ServiceSettings
from tests.fixtures.core import ROOT

OWNERS = (IndexSettings, IngestSettings, ServiceSettings)
# the code each class serves: the modules both sides use, the ingest job, the service
READERS = {
    IndexSettings: ["ingest/store.py", "ingest/embed.py"],
    IngestSettings: ["ingest"],
    ServiceSettings: ["service"],
}


def own_fields(cls) -> set[str]:
    """The fields `cls` defines in its own body (not the ones it inherits)."""
    return {name for name in inspect.get_annotations(cls) if name in cls.model_fields}


def settings_reads(source: str) -> set[str]:
    """Attributes read from a settings object in `source`: `settings.x`, `self.settings.x`, and
    `s.x` after `s = self.settings` (or `s = settings`) in the same module."""
    tree = ast.parse(source)

    def is_settings(node) -> bool:
        return (isinstance(node, ast.Name) and node.id == "settings") or (
            isinstance(node, ast.Attribute) and node.attr == "settings")

    aliases = {target.id for node in ast.walk(tree) if isinstance(node, ast.Assign) and is_settings(node.value)
               for target in node.targets if isinstance(target, ast.Name) and target.id != "settings"}
    return {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
            and (is_settings(node.value) or (isinstance(node.value, ast.Name) and node.value.id in aliases))}


def reads_of(paths: list[str]) -> dict[str, set[str]]:
    """{settings attribute: the files reading it} over the .py files under `paths` (files or folders)."""
    found: dict[str, set[str]] = {}
    for rel in paths:
        root = ROOT / rel
        for path in sorted(root.rglob("*.py")) if root.is_dir() else [root]:
            for name in settings_reads(path.read_text(encoding="utf-8")):
                found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def attributes(cls) -> set[str]:
    """What code may read from an instance: its fields and the class's own properties."""
    props = {name for klass in cls.__mro__ if klass in OWNERS
             for name, value in vars(klass).items() if isinstance(value, property)}
    return set(cls.model_fields) | props


def test_every_field_is_defined_in_exactly_one_class():
    owned = [own_fields(cls) for cls in OWNERS]
    assert [len(fields) for fields in owned] == [10, 4, 51]
    for i, a in enumerate(owned):
        for b in owned[i + 1:]:
            assert not a & b, f"defined twice: {sorted(a & b)}"
    assert set().union(*owned) == set(ServiceSettings.model_fields)
    assert set(IngestSettings.model_fields) == owned[0] | owned[1]


def test_every_field_is_described():
    assert [name for name, f in ServiceSettings.model_fields.items() if not f.description] == []


@pytest.mark.parametrize("cls", OWNERS, ids=lambda cls: cls.__name__)
def test_each_side_reads_only_fields_its_class_has(cls):
    reads = reads_of(READERS[cls])
    assert len(reads) >= 8  # the walk sees the code
    unknown = {name: sorted(files) for name, files in reads.items() if name not in attributes(cls)}
    assert unknown == {}, f"read but not a setting of {cls.__name__}"


@pytest.mark.parametrize("cls", OWNERS, ids=lambda cls: cls.__name__)
def test_each_field_is_read_by_the_code_of_its_owner(cls):
    """A field sits in the narrowest class whose code reads it: an index field is read by the
    modules both sides share, an ingest field by the ingest job, a service field by the service."""
    unread = own_fields(cls) - set(reads_of(READERS[cls]))
    assert unread == set(), f"{cls.__name__} defines settings its code never reads"


@pytest.mark.parametrize(("source", "reads"), [
    ("settings.top_k", {"top_k"}),
    ("self.settings.candidates", {"candidates"}),
    ("request.app.state.settings.port", {"port"}),
    ("s = self.settings\nx = s.chat_rate_limit", {"chat_rate_limit"}),
    ("f(settings=settings)\nchromadb.Settings(anonymized_telemetry=False)", set()),
    ("other.top_k\ns.top_k", set()),  # neither a settings object nor bound to one
])
def test_the_walk_finds_every_form_of_read(source, reads):
    assert settings_reads(source) == reads


def test_one_env_file_feeds_every_owner(tmp_path, monkeypatch):
    """One .env feeds all three classes: each takes its own names and ignores the others'."""
    monkeypatch.delenv("CHAT_RATE_LIMIT", raising=False)
    (tmp_path / ".env").write_text("CHROMA_PORT=9001\nCHUNK_MAX_CHARS=900\nCHAT_RATE_LIMIT=7\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert IndexSettings().chroma_port == 9001
    assert (IngestSettings().chroma_port, IngestSettings().chunk_max_chars) == (9001, 900)
    service = ServiceSettings()
    assert (service.chroma_port, service.chunk_max_chars, service.chat_rate_limit) == (9001, 900, 7.0)
    assert not hasattr(IngestSettings(), "chat_rate_limit")


CONFIGURATION = ROOT / "docs" / "configuration.md"
SECTION = re.compile(r"^## `(\w+)`", re.MULTILINE)
ROW = re.compile(r"^\| `(\w+)` \| (.*?) \| (.*) \|$", re.MULTILINE)


def shown_default(field) -> str:
    """A field's default as docs/configuration.md writes it (as one would set it in .env)."""
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, (dict, list)):
        return f"`{json.dumps(value)}`"
    return f"`{value}`"


def documented() -> dict[str, dict[str, str]]:
    """{class name: {ENV_NAME: default as written}} from docs/configuration.md's tables."""
    parts = SECTION.split(CONFIGURATION.read_text(encoding="utf-8"))  # [before, name, body, name, body…]
    return {name: {row.group(1): row.group(2) for row in ROW.finditer(body)}
            for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def test_the_configuration_page_lists_each_field_once_under_its_owner_with_its_default():
    docs = documented()
    assert list(docs) == [cls.__name__ for cls in OWNERS]
    for cls in OWNERS:
        expected = {name.upper(): shown_default(cls.model_fields[name]) for name in own_fields(cls)}
        assert docs[cls.__name__] == expected, cls.__name__


@pytest.mark.parametrize(("value", "shown"), [
    (None, "unset"), (False, "`false`"), (8000, "`8000`"), (Path("var/chroma"), "`var/chroma`"), ("", "``"),
])
def test_defaults_are_shown_as_written_in_env(value, shown):
    from pydantic.fields import FieldInfo

    assert shown_default(FieldInfo(default=value)) == shown
    assert shown_default(FieldInfo(default_factory=dict)) == "`{}`"
