"""Sync against a real Chroma under tmp_path with the real embedding model."""


import pytest

from ingest import store as ix
from ingest.cli import main as ingest_main
from ingest.sync import sync_paths
from tests.fixtures.core import SAMPLE, SAMPLE_CHUNKS

SECOND = """A second interview

The Editor talked to Ada Lovelace, Chief Engineer at Example Corp, about engines.

What are you building?

We are building an analytical engine. It computes tables of numbers.

Tell us about your team

The team is small. Everyone writes programs for the engine.
"""


def _ids(settings):
    client = ix.chroma_client(settings)
    chunks = ix.open_collection(client, settings, ix.CHUNK_SUFFIX).get(include=[])["ids"]
    sents = ix.open_collection(client, settings, ix.SENTENCE_SUFFIX).get(include=["metadatas"])
    return sorted(chunks), sents


def test_first_sync_then_nothing_changes(settings, embedder):
    client = ix.chroma_client(settings)
    first = sync_paths([settings.transcripts_dir], settings, embedder, client)
    assert (first.transcripts, first.updated, first.unchanged, first.deleted) == (1, 0, 0, 0)
    assert first.added == SAMPLE_CHUNKS
    ids_before, _ = _ids(settings)
    encoded = embedder.encoded
    second = sync_paths([settings.transcripts_dir], settings, embedder, client)
    assert (second.added, second.updated, second.unchanged, second.deleted) == (0, 0, SAMPLE_CHUNKS, 0)
    assert embedder.encoded == encoded, "an unchanged chunk was re-embedded"
    assert _ids(settings)[0] == ids_before


def test_changed_answer_reembeds_only_its_chunk_and_removed_answer_disappears(settings, embedder):
    client = ix.chroma_client(settings)
    sync_paths([settings.transcripts_dir], settings, embedder, client)
    path = settings.transcripts_dir / SAMPLE.name
    text = path.read_text(encoding="utf-8")
    text = text.replace("We have seen a peak of 400K transactions per second.",
                        "We have seen a peak of 500K transactions per second.")
    # Remove the last question and its answer.
    text = text.replace("Who do you look up to for new ideas?", "").split("Personally, I look up to")[0] + (
        text.split("Personally, I look up to")[1].split("\n", 1)[1]
    )
    path.write_text(text, encoding="utf-8")
    encoded = embedder.encoded
    report = sync_paths([settings.transcripts_dir], settings, embedder, client)
    assert (report.added, report.updated, report.deleted) == (0, 1, 1)
    assert report.unchanged == SAMPLE_CHUNKS - 2
    chunk = ix.open_collection(client, settings, ix.CHUNK_SUFFIX)
    changed = report.plans[0].updated[0]
    assert embedder.encoded - encoded == 1  # its sentence vectors come from the same forward pass
    assert "500K" in chunk.get(ids=[changed.id])["documents"][0]
    ids, sents = _ids(settings)
    assert not any("t021" in i for i in ids)
    assert not any("t021" in m["chunk_id"] for m in sents["metadatas"])
    # sentence records of every chunk match its recorded count: nothing orphaned or missing
    counts = {}
    for m in sents["metadatas"]:
        counts[m["chunk_id"]] = counts.get(m["chunk_id"], 0) + 1
    metas = chunk.get(include=["metadatas"])
    assert {i: m["sentences"] for i, m in zip(metas["ids"], metas["metadatas"])} == counts


def test_removed_transcript_deletes_all_its_chunks(settings, embedder):
    client = ix.chroma_client(settings)
    (settings.transcripts_dir / "second.txt").write_text(SECOND, encoding="utf-8")
    first = sync_paths([settings.transcripts_dir], settings, embedder, client)
    assert first.transcripts == 2 and first.added == SAMPLE_CHUNKS + 3  # second.txt: its intro and two answers
    (settings.transcripts_dir / "second.txt").unlink()
    report = sync_paths([settings.transcripts_dir], settings, embedder, client)
    assert (report.deleted, report.unchanged) == (3, SAMPLE_CHUNKS)
    assert [p.status for p in report.plans] == ["unchanged", "removed"]
    ids, sents = _ids(settings)
    assert not any(i.startswith("second#") for i in ids)
    assert not any(m["transcript"] == "second" for m in sents["metadatas"])


def test_dry_run_writes_nothing(settings, embedder):
    client = ix.chroma_client(settings)
    report = sync_paths([settings.transcripts_dir], settings, embedder, client, dry_run=True)
    assert report.added == SAMPLE_CHUNKS and report.plans[0].status == "added"
    assert ix.open_collection(client, settings, ix.CHUNK_SUFFIX).count() == 0
    assert "Alibaba cloud business" in report.plans[0].dropped  # an image caption: web-capture debris


def test_dry_run_lists_what_would_be_dropped(settings, capsys):
    assert ingest_main(["--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "  would drop: Alibaba cloud business" in out
    assert "  would drop: Article Share Image Share this article" in out


BAD = {
    "empty.txt": (b"", "the file is empty"),
    "latin1.txt": ("Titel\n\nWas ist los?\n\nGrüße aus Köln.".encode("latin-1"), "not valid UTF-8"),
    "prose.txt": (b"A title\n\nOnly prose. Nothing asked.\n\nMore prose here.", "no interviewer questions"),
    "binary.txt": (b"\x00\x01\x02abc", "NUL bytes"),
    "slides.pdf": (b"%PDF-1.4", "unsupported format '.pdf'"),
}


def test_bad_files_are_skipped_with_reasons_and_the_rest_ingested(settings, embedder, capsys):
    for name, (data, _) in BAD.items():
        (settings.transcripts_dir / name).write_bytes(data)
    code = ingest_main([str(settings.transcripts_dir), str(settings.transcripts_dir / "missing.txt"), "--quiet"])
    out = capsys.readouterr()
    assert code == 1
    for name, (_, reason) in BAD.items():
        line = next(l for l in out.err.splitlines() if name in l)
        assert reason in line
    assert "missing.txt: no such file or folder" in out.err
    assert f"1 transcript; chunks added {SAMPLE_CHUNKS}" in out.out
    client = ix.chroma_client(settings)
    ids = ix.open_collection(client, settings, ix.CHUNK_SUFFIX).get(include=["metadatas"])
    assert {m["transcript"] for m in ids["metadatas"]} == {"alibaba-cloud-xuan-jin"}


def test_cli_clean_run_exits_zero_and_is_idempotent(settings, capsys):
    assert ingest_main(["--quiet"]) == 0
    assert ingest_main(["--quiet"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert f"added {SAMPLE_CHUNKS}" in out[0]
    assert f"added 0, updated 0, unchanged {SAMPLE_CHUNKS}, deleted 0" in out[1]


def test_broken_edit_keeps_old_chunks(settings, embedder):
    """A transcript that becomes unreadable keeps its indexed chunks until it is fixed."""
    client = ix.chroma_client(settings)
    sync_paths([settings.transcripts_dir], settings, embedder, client)
    (settings.transcripts_dir / SAMPLE.name).write_bytes(b"\xff\xfe broken")
    report = sync_paths([settings.transcripts_dir], settings, embedder, client)
    assert report.skipped and report.deleted == 0
    assert ix.open_collection(client, settings, ix.CHUNK_SUFFIX).count() == SAMPLE_CHUNKS


def test_single_file_path_does_not_delete_others(settings, embedder, tmp_path):
    client = ix.chroma_client(settings)
    sync_paths([settings.transcripts_dir], settings, embedder, client)
    other = tmp_path / "second.txt"
    other.write_text(SECOND, encoding="utf-8")
    report = sync_paths([other], settings, embedder, client)
    assert (report.added, report.deleted) == (3, 0)
    assert ix.open_collection(client, settings, ix.CHUNK_SUFFIX).count() == SAMPLE_CHUNKS + 3


@pytest.mark.parametrize("help_flag", ["--help"])
def test_help_shows_an_example(help_flag, capsys):
    with pytest.raises(SystemExit) as exc:
        ingest_main([help_flag])
    assert exc.value.code == 0
    assert "rag-ingest --dry-run" in capsys.readouterr().out


def test_two_writers_from_the_same_state_record_different_versions(settings):
    """Two syncs that read the same state (two processes on one Chroma server) must not both
    write version + 1: a worker that reloaded after the first would miss the second."""
    client = ix.chroma_client(settings)
    seen = ix.read_state(client, settings)
    first, second = ix.next_version(seen), ix.next_version(seen)
    assert first != second and min(first, second) > seen.version
    ix.write_state(client, settings, ix.IndexState(seen.generation, first, settings.embedding_model))
    assert ix.read_state(client, settings).version == first  # round-trips through Chroma (int64)
    later = ix.next_version(ix.read_state(client, settings))
    assert later > first


@pytest.mark.parametrize("damage", ["stale fingerprint", "missing piece"])
def test_a_half_written_transcript_is_not_taken_for_unchanged(settings, embedder, damage):
    """A no-change sync reads ids and one record per transcript; a transcript whose pieces were
    left half-written (one still carries an older file's fingerprint, or one is missing) is
    re-read and completed, not skipped."""
    client = ix.chroma_client(settings)
    sync_paths([settings.transcripts_dir], settings, embedder, client)
    chunks = ix.open_collection(client, settings, ix.CHUNK_SUFFIX)
    ids = sorted(chunks.get(include=[])["ids"])
    victim = ids[len(ids) // 2]
    if damage == "stale fingerprint":
        chunks.update(ids=[victim], metadatas=[{ix.K_FILE: "an older file"}])
    else:
        chunks.delete(ids=[victim])
    again = sync_paths([settings.transcripts_dir], settings, embedder, client)
    assert again.added + again.updated + len([c for p in again.plans for c in p.touched]) >= 1
    got = chunks.get(include=["metadatas"])
    assert sorted(got["ids"]) == ids
    assert len({m[ix.K_FILE] for m in got["metadatas"]}) == 1
    third = sync_paths([settings.transcripts_dir], settings, embedder, client)
    assert (third.added, third.updated, third.unchanged) == (0, 0, SAMPLE_CHUNKS)
