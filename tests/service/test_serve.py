"""rag-serve's process set-up (the serving itself is tested through the app and in tests/e2e)."""

from service.serve import cap_malloc_arenas


def test_malloc_arenas_are_capped_at_two_unless_set(monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert cap_malloc_arenas() == 2
    import os

    assert os.environ["MALLOC_ARENA_MAX"] == "2"  # inherited by the worker processes


def test_an_operators_malloc_arena_max_wins(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert cap_malloc_arenas() == 4
