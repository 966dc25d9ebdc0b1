"""Adding and updating transcripts from the page (issue 21, item 7): files chosen with the picker
are previewed (new, already there, unchanged, refused and why) before anything is written; the key
is asked for where the service requires one; "Add" stores and indexes the new file, and it is
answerable at once, without a reload; "Replace" updates one already there. A service of the
test's own, with an API key, on copies of the index and the folder. Axe at each state, light and
dark, with a screenshot."""

from __future__ import annotations

import shutil

import pytest
from playwright.sync_api import expect

from tests.fixtures.servers import ServiceProcess

from .helpers import SAMPLE, Page, ask_and_capture, axe_violations, shot

KEY = "upload-test-key-0123456789"
NEW = """Interviewer: Where does the ferry to the island leave from?

Marta Quinn: The ferry to Skerry Island leaves from the north pier at Port Aven every morning at seven.

Interviewer: How long is the crossing?

Marta Quinn: The crossing takes forty minutes when the sea is calm.
"""


@pytest.fixture
def upload_server(browser_index, tmp_path):
    chroma, folder = tmp_path / "chroma", tmp_path / "transcripts"
    shutil.copytree(browser_index["spare"], chroma)
    shutil.copytree(browser_index["transcripts"], folder)
    live = ServiceProcess(tmp_path, chroma_path=chroma, transcripts_dir=folder, answer_mode="extractive",
                          api_key=KEY).start()
    yield live, folder
    live.stop()


def rows(page) -> dict[str, str]:
    """What the uploader's table says happens to each file."""
    out = {}
    for tr in page.locator("#upload-body tbody tr").all():
        out[tr.locator("th").inner_text()] = tr.locator(".upload-state").inner_text()
    return out


def check(page, state: str, scheme: str) -> None:
    assert axe_violations(page) == [], state
    shot(page, f"upload-{state}-{scheme}")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_files_are_previewed_then_added_and_answerable_without_a_reload(open_page, upload_server, tmp_path, scheme):
    live, folder = upload_server
    page = open_page(live.url + "/", color_scheme=scheme)
    ui = Page(page)
    ui.open_library()
    page.locator("#upload-open").click()
    expect(page.locator("#uploader")).to_be_visible()
    expect(page.locator("#upload-files")).to_be_focused()

    new = tmp_path / "skerry-ferry.txt"
    new.write_text(NEW, encoding="utf-8")
    bad = tmp_path / "notes.pdf"
    bad.write_bytes(b"%PDF-1.4 not a transcript")
    same = tmp_path / SAMPLE.name
    shutil.copy(SAMPLE, same)
    page.locator("#upload-files").set_input_files([str(new), str(bad), str(same)])

    # the service requires a key: the page asks for it, in plain words
    expect(page.locator("#upload-key-row")).to_be_visible()
    expect(page.locator("#upload-status")).to_contain_text("needs its API key")
    check(page, "key", scheme)
    page.locator("#upload-key").fill(KEY)
    page.locator("#upload-replace").check()  # a change of choice checks the files again, now with the key
    page.wait_for_selector("#upload-body[data-state=preview]")
    assert rows(page) == {"skerry-ferry.txt": "New transcript", "notes.pdf": "Refused", SAMPLE.name: "Unchanged"}
    expect(page.locator('#upload-body tr[data-status="refused"] td').last).to_contain_text("unsupported format")
    expect(page.locator("#upload-send")).to_have_text("Add 1 file")
    assert not (folder / new.name).exists()  # nothing is written by the preview
    check(page, "preview", scheme)

    page.locator("#upload-send").click()
    page.wait_for_selector("#upload-body[data-state=done]", timeout=120_000)
    assert rows(page) == {"skerry-ferry.txt": "Added"}
    expect(page.locator("#upload-status")).to_contain_text("1 transcript added or updated")
    assert (folder / new.name).read_text(encoding="utf-8") == NEW
    check(page, "done", scheme)

    # answerable at once, in the same page, and listed in the library
    page.keyboard.press("Escape")
    expect(page.locator("#upload-open")).to_be_focused()
    expect(ui.transcript_item("skerry-ferry")).to_have_count(1)
    _, body, _ = ask_and_capture(ui, "Where does the ferry to Skerry Island leave from?")
    assert not body["abstained"] and "north pier" in body["answer"], body["answer"]
    assert body["sources"][0]["transcript"] == "skerry-ferry"


def test_a_file_already_there_is_replaced_only_when_asked(open_page, upload_server, tmp_path):
    live, folder = upload_server
    page = open_page(live.url + "/")
    Page(page).open_library()
    page.locator("#upload-open").click()
    changed = tmp_path / SAMPLE.name
    changed.write_text(SAMPLE.read_text(encoding="utf-8") + "\nA closing remark about ferries.\n", encoding="utf-8")
    page.locator("#upload-files").set_input_files(str(changed))
    expect(page.locator("#upload-key-row")).to_be_visible()
    page.locator("#upload-key").fill(KEY)
    page.locator("#upload-key").dispatch_event("change")
    page.wait_for_selector("#upload-body[data-state=preview]")
    assert rows(page) == {SAMPLE.name: "Already in the folder"}
    expect(page.locator("#upload-send")).to_be_disabled()
    page.locator("#upload-replace").check()
    expect(page.locator("#upload-body tbody .upload-state")).to_have_text(["Updates the transcript"])
    page.locator("#upload-send").click()
    page.wait_for_selector("#upload-body[data-state=done]", timeout=120_000)
    assert rows(page) == {SAMPLE.name: "Updated"}
    assert (folder / SAMPLE.name).read_text(encoding="utf-8").endswith("about ferries.\n")
    shot(page, "upload-replaced-light")
