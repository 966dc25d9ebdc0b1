"""Chat text normalisation (service/rag/unicode_text.py): NFC without format characters, in
linear time on any text (issue 19, item 1), and lone surrogates found."""

from __future__ import annotations

import time
import unicodedata

import pytest

from service.rag.unicode_text import CGJ, MAX_NON_STARTERS, lone_surrogate, normalise, stream_safe

READABLE = [
    "When was Alibaba Cloud started?",
    "Cafe\u0301 re\u0301sume\u0301 — naïve façade",
    "Tiếng Việt có dấu: Nguyễn Thị Minh Khai",
    "한국어 문장입니다 \u1100\u1161\u11a8",
    "अनुच्छेद क़ ख़ ग़",
    "متى بدأت علي بابا كلاود؟ ﻻ",
    "阿里云是什么时候成立的? ｶﾞ ﾊﾟ",
    "Z\u0351\u0352\u0353a\u0354l\u0355g\u0356o",
]


@pytest.mark.parametrize("text", READABLE)
def test_readable_text_gets_plain_nfc(text):
    assert normalise(text) == unicodedata.normalize("NFC", text)


def test_format_characters_are_dropped():
    assert normalise("\ufeffAli\u200bbaba Cl\u200doud\u2060 \u202estarted\u202c?\U000e0041") == \
        "Alibaba Cloud started?"


def longest_run_of_marks(text: str) -> int:
    longest = run = 0
    for c in text:
        run = run + 1 if unicodedata.combining(c) else 0
        longest = max(longest, run)
    return longest


@pytest.mark.parametrize("marks", ["\u0301\u0316", "\u0301", "\u0316\u0344\u0301\u05b0"])
def test_runs_of_marks_are_cut_every_30(marks):
    text = "a" + marks * 1000
    safe = stream_safe(text)
    assert safe.replace(CGJ, "") == text
    assert longest_run_of_marks(safe) == MAX_NON_STARTERS
    assert longest_run_of_marks(normalise(text)) <= 2 * MAX_NON_STARTERS  # U+0344 decomposes in two
    assert stream_safe("a" + "\u0301" * 30) == "a" + "\u0301" * 30  # 30 is allowed


def seconds(text: str) -> float:
    started = time.perf_counter()
    normalise(text)
    return time.perf_counter() - started


def test_normalisation_is_linear_in_combining_marks():
    """The red-team's text: U+0301 U+0316 pairs (NFC alone: 6.5 s for 40,000 pairs, 4x for 2x).
    Twice the pairs cost about twice the time (3x allowed), and 100,000 pairs well under a second."""
    small = min(seconds("\u0301\u0316" * 50_000) for _ in range(3))
    large = min(seconds("\u0301\u0316" * 100_000) for _ in range(3))
    assert large < 3 * small + 0.01, (small, large)
    assert large < 1.0


def test_lone_surrogates_are_found_and_pairs_are_not_surrogates():
    assert lone_surrogate("When was \ud800 started").start() == 9
    assert lone_surrogate("\udfff").group() == "\udfff"
    assert lone_surrogate("emoji 😀 and 𝐀") is None  # JSON's "\ud83d\ude00" decodes to one character
