"""The recording a transcript names (service/rag/library.py): which address of an intro is the
recording, and the link to it at a turn's time."""

from __future__ import annotations

import pytest

from service.rag.library import find_media_url, media_at


@pytest.mark.parametrize(
    ("intro", "expected"),
    [
        ("Video: https://media.example.org/council/1.mp4", "https://media.example.org/council/1.mp4"),
        ("The meeting was filmed. Recording (audio): https://example.org/listen/42.", "https://example.org/listen/42"),
        ("Watch it at https://www.youtube.com/watch?v=abc123 or read below.", "https://www.youtube.com/watch?v=abc123"),
        ("Audio file https://cdn.example.net/ep/7.mp3, transcribed by volunteers.", "https://cdn.example.net/ep/7.mp3"),
        ("See https://example.org/about for the committee's members.", None),  # a page, not a recording
        ("Video: ftp://example.org/1.mp4", None),  # not http(s)
        ("Video: https://user:secret@example.org/1.mp4", None),  # credentials in it
        ("", None),
    ],
)
def test_the_recording_of_an_intro(intro, expected):
    assert find_media_url(intro) == expected


@pytest.mark.parametrize(
    ("url", "timestamp", "expected"),
    [
        ("https://m.example.org/a.mp4", "00:01:42", "https://m.example.org/a.mp4#t=102"),
        ("https://m.example.org/a.mp4#t=5", "01:00:00", "https://m.example.org/a.mp4#t=3600"),
        ("https://www.youtube.com/watch?v=abc&t=9s", "00:02:03", "https://www.youtube.com/watch?v=abc&t=123s"),
        ("https://youtu.be/abc", "00:00:30", "https://youtu.be/abc?t=30s"),
        ("https://vimeo.com/123", "00:10:00", "https://vimeo.com/123#t=600s"),
        ("https://m.example.org/a.mp4", "", "https://m.example.org/a.mp4"),
        ("https://m.example.org/a.mp4", "soon", "https://m.example.org/a.mp4"),
        (None, "00:01:00", None),
    ],
)
def test_the_recording_at_a_time(url, timestamp, expected):
    assert media_at(url, timestamp) == expected
