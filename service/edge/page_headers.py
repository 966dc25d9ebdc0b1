"""The page headers on every HTML response, and `nosniff` on every response.

The chat page is served at `/` and, as a file, at `/static/index.html`; Swagger UI at `/docs`.
Each HTML response gets the chat page's headers: a strict CSP (no inline script or style, nothing
from other origins, and `frame-ancestors 'none'`: no other site may frame a page of the service
and trick a click on it), `nosniff`, no referrer, `no-cache`. A header that a route sets itself
is kept (`/docs` sends the CSP with the hash of its one inline script). Every other response gets
`X-Content-Type-Options: nosniff`, so that no browser takes a JSON body or a static file for
another type than it is sent as.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def is_html(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() in HTML_TYPES


class PageHeaders:
    """Pure ASGI middleware: adds the headers as each response starts."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                page = PAGE_HEADERS if is_html(headers.get("content-type")) else {}
                for name, value in {"X-Content-Type-Options": "nosniff", **page}.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
