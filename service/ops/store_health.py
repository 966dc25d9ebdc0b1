"""Is the Chroma store reachable? The start-up wait, the readiness probe and the 503 message.

In client/server mode the service depends on a Chroma server it does not run. It waits for it
at start-up (a bounded number of heartbeats), says whether it answers in `/ready` and `/health`,
and turns the connection errors of a store that went away into a 503 with a message a person
can act on. Nothing needs resetting when it comes back: the Chroma client reconnects by itself.
"""

from __future__ import annotations

import logging
import time

import httpx

from ingest.settings import IndexSettings
from service.settings import ServiceSettings

log = logging.getLogger("service")

# What a request sees when the Chroma server is gone: refused or dropped connections, timeouts
# (a hung server: ingest.chroma_deadline.ChromaTimeout is an httpx timeout), and a proxy in front of it
# answering "bad gateway / unavailable".
STORE_ERRORS: tuple[type[BaseException], ...] = (httpx.TransportError, ConnectionError, httpx.HTTPStatusError)


class StoreUnavailable(RuntimeError):
    """The Chroma server did not answer (start-up gave up waiting for it)."""


def chroma_url(settings: IndexSettings) -> str:
    return f"{'https' if settings.chroma_ssl else 'http'}://{settings.chroma_host}:{settings.chroma_port}"


def is_store_error(exc: BaseException) -> bool:
    """A connection failure towards Chroma (not a bug, not a bad request)."""
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code in (502, 503, 504)
    return isinstance(exc, STORE_ERRORS)


def unavailable_detail(settings: IndexSettings | None = None) -> str:
    """The 503 message of a request that needed the store while it was away."""
    where = f" at {chroma_url(settings)}" if settings is not None else ""
    return (
        f"The document store (Chroma server{where}) cannot be reached, so no "
        "passages can be searched right now. The service reconnects by itself when it is back; "
        "try again shortly (GET /ready tells when)."
    )


def heartbeat(settings: ServiceSettings, client=None) -> str | None:
    """None when Chroma answers its heartbeat, else why not (bounded by CHROMA_CHECK_TIMEOUT).

    In client/server mode this asks the server directly with this shorter timeout (the client's
    calls wait up to CHROMA_REQUEST_TIMEOUT); the embedded store is in-process and answers when
    it is open.
    """
    if not settings.client_server:
        if client is None:
            return None
        try:
            client.heartbeat()
            return None
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            return f"{type(exc).__name__}: {exc}"
    url = f"{chroma_url(settings)}/api/v2/heartbeat"
    try:
        r = httpx.get(url, headers=settings.chroma_headers or None, timeout=settings.chroma_check_timeout)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__} reaching {url}" + (f": {exc}" if str(exc) else "")
    if r.status_code != 200:
        return f"{url} answered HTTP {r.status_code}"
    return None


def wait_for_chroma(settings: ServiceSettings) -> None:
    """Block until the Chroma server answers, at most CHROMA_CONNECT_ATTEMPTS heartbeats apart by
    CHROMA_CONNECT_DELAY seconds; raise StoreUnavailable after the last. No-op when embedded."""
    if not settings.client_server:
        return
    attempts = settings.chroma_connect_attempts
    for attempt in range(1, attempts + 1):
        problem = heartbeat(settings)
        if problem is None:
            if attempt > 1:
                log.info("Chroma at %s answers (attempt %d)", chroma_url(settings), attempt)
            return
        if attempt < attempts:
            log.warning("Chroma at %s does not answer yet (attempt %d/%d: %s); retrying in %g s",
                        chroma_url(settings), attempt, attempts, problem, settings.chroma_connect_delay)
            time.sleep(settings.chroma_connect_delay)
    raise StoreUnavailable(
        f"the Chroma server at {chroma_url(settings)} did not answer after {attempts} attempt(s) "
        f"{settings.chroma_connect_delay:g} s apart ({problem}). Start it, or check CHROMA_HOST, "
        "CHROMA_PORT and CHROMA_SSL; CHROMA_CONNECT_ATTEMPTS and CHROMA_CONNECT_DELAY set how long "
        "the service waits."
    )
