"""Chat text as Unicode the service can work with, in time linear in its length.

JSON can carry a lone surrogate (`"\\ud800"`): not a character, so no UTF-8 encoder, tokenizer
or response writer takes it; `lone_surrogate` finds one, so that the request is refused naming
the field. `normalise` drops invisible format characters (zero-width spaces and joiners, bidi
controls, tags: they split words apart) and applies NFC over the Stream-Safe Text Format
(UAX #15 §13): NFC's canonical reordering is quadratic in the length of a run of combining
marks, so a COMBINING GRAPHEME JOINER goes after every 30 of them first. Readable text never
has such runs; Zalgo text keeps its letters and stays answerable.
"""

from __future__ import annotations

import re
import unicodedata

CGJ = "\u034f"  # COMBINING GRAPHEME JOINER: a starter that changes nothing visible
MAX_NON_STARTERS = 30  # UAX #15 §13

_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate(text: str) -> re.Match | None:
    """The first surrogate code point of `text`, if any: in a decoded string it is always lone
    (JSON's `\\ud83d\\ude00` pairs decode to one character)."""
    return _SURROGATE.search(text)


def _is_non_starter(c: str) -> bool:
    """A character whose compatibility decomposition begins with a non-starter (UAX #15 §13)."""
    return bool(unicodedata.combining(c)) or bool(
        unicodedata.decomposition(c) and unicodedata.combining(unicodedata.normalize("NFKD", c)[0]))


def _char_class(codepoints: list[int]) -> str:
    """A regex character class of `codepoints` (ascending), as ranges."""
    ranges: list[list[int]] = []
    for cp in codepoints:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return "[" + "".join(re.escape(chr(a)) + ("-" + re.escape(chr(b)) if b > a else "") for a, b in ranges) + "]"


def _classes() -> tuple[re.Pattern, re.Pattern]:
    """(one format character, a run of more than 30 non-starters), from this Python's Unicode data.
    Planes 4–13 hold no assigned character and planes 15–16 only private use, so they are skipped."""
    fmt, non_starters = [], []
    for cp in [*range(0x40000), *range(0xE0000, 0xF0000)]:
        c = chr(cp)
        if unicodedata.category(c) == "Cf":
            fmt.append(cp)
        elif _is_non_starter(c):
            non_starters.append(cp)
    ns = _char_class(non_starters)
    return re.compile(_char_class(fmt)), re.compile(f"(?<!{ns}){ns}{{{MAX_NON_STARTERS + 1},}}")


_FORMAT, _LONG_RUN = _classes()


def _split_run(match: re.Match) -> str:
    run = match.group()
    return CGJ.join(run[i:i + MAX_NON_STARTERS] for i in range(0, len(run), MAX_NON_STARTERS))


def stream_safe(text: str) -> str:
    """`text` with a CGJ after every 30 consecutive non-starters (UAX #15 §13)."""
    return _LONG_RUN.sub(_split_run, text)


def normalise(text: str) -> str:
    """NFC of `text` without format characters, in linear time (see the module's docstring)."""
    return unicodedata.normalize("NFC", stream_safe(_FORMAT.sub("", text)))
