"""Raw HTML in answers: written so that no reader takes it for markup.

An answer is Markdown without raw HTML (docs/api.md). A transcript that the built-in answerer
quotes, or a model's output, may hold HTML: `<img src=x onerror=…>`, `<svg onload=…>`,
`<iframe src=…>`, `<video poster=…>`, or an `<a href>` whose address is entity-encoded
(`https&#x3a;&#x2f;&#x2f;…`, `jav&#x61;script:`), which no link rule can read reliably. So no
tag is let through, whatever it holds: every `<` that opens one is written `&lt;`.

A `<` opens something only before an ASCII letter, `/`, `!` or `?`: that is where an HTML parser
starts a tag, an end tag, a comment, a doctype or a processing instruction (WHATWG tokenizer,
"tag open state"), and where a CommonMark renderer starts raw HTML, an HTML block or an
autolink. Written `&lt;`, it is shown as `<` by every Markdown renderer, with HTML allowed or
not, and by a browser; every other `<` (`3 < 5`, `<=`, `<-`) is left as it is. One look-ahead
character per `<`: linear time, and a text cut anywhere but between `<` and the next character
is escaped piece by piece exactly as whole.
"""

from __future__ import annotations

import re

ESCAPED_LT = "&lt;"
_OPENS_MARKUP = re.compile(r"<(?=[A-Za-z/!?])")


def escape_markup(text: str) -> str:
    """`text` with every `<` that would open a tag, comment or declaration written `&lt;`."""
    return _OPENS_MARKUP.sub(ESCAPED_LT, text)
