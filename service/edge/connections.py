"""How `rag-serve` runs uvicorn: the server options taken from ServiceSettings, and an HTTP protocol that
bounds the request head (request line and headers) in size and in time.

uvicorn's default parser (httptools) has neither bound: a 150 MB header line sent in 64 KB pieces
kept the event loop busy for 26 s (every other client waited), and connections that never finished
their headers stayed open. `BoundedHttpToolsProtocol` stops reading a head at MAX_HEADER_BYTES
(431) and gives a client HEADER_TIMEOUT seconds to complete it (408); the body is bounded by
`service.edge.body_limit.BodyLimit` (BODY_TIMEOUT), idle keep-alive connections by KEEP_ALIVE_TIMEOUT, open
connections by MAX_CONNECTIONS (uvicorn's limit_concurrency: 503 past it).

One client could still fill every MAX_CONNECTIONS slot by itself (300 silent sockets, or 300 chat
bodies that never end, gave everyone else 503): the protocol also caps the connections of one client
(MAX_CONNECTIONS_PER_CLIENT, `service.edge.client_connections`) and closes a connection that sends
nothing within FIRST_BYTE_TIMEOUT.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from service.edge.asgi import send_json
from service.edge.client_connections import ClientConnections
from service.settings import ServiceSettings

PROTOCOL = "service.edge.connections:BoundedHttpToolsProtocol"  # by name: workers import it themselves


class ServeConfig(uvicorn.Config):
    """uvicorn's Config plus the limits uvicorn has no option for: `header_timeout`,
    `first_byte_timeout` and `max_connections_per_client` (0: no cap)."""

    def __init__(self, app: Any, *, header_timeout: float | None = None, first_byte_timeout: float | None = None,
                 max_connections_per_client: int = 0, **kwargs: Any):
        super().__init__(app, **kwargs)
        self.header_timeout = header_timeout
        self.first_byte_timeout = first_byte_timeout
        self.max_connections_per_client = max_connections_per_client
        self._per_client: ClientConnections | None = None

    @property
    def client_connections(self) -> ClientConnections | None:
        """This worker's count of connections per client (built in the worker, on first use)."""
        if self._per_client is None and self.max_connections_per_client:
            trusted = self.forwarded_allow_ips if self.proxy_headers else None
            self._per_client = ClientConnections(self.max_connections_per_client, trusted)
        return self._per_client


def uvicorn_options(settings: ServiceSettings) -> dict[str, Any]:
    """ServeConfig's keyword arguments for these settings: rag-serve and the tests both use them.

    Forwarded headers (X-Forwarded-For, -Proto) are trusted only from FORWARDED_ALLOW_IPS;
    uvicorn's own default trusts loopback, so anyone on the host could pose as any address.
    No `Server` header (it names the software); the `Date` header stays (RFC 9110 asks origin
    servers with a clock to send it). WebSockets are off: the app has none.
    """
    return {
        "http": PROTOCOL,
        "ws": "none",
        "h11_max_incomplete_event_size": settings.max_header_bytes,  # the head cap, read by the protocol
        "header_timeout": settings.header_timeout,
        "first_byte_timeout": settings.first_byte_timeout,
        "max_connections_per_client": settings.max_connections_per_client,
        "timeout_keep_alive": settings.keep_alive_timeout,
        "limit_concurrency": settings.max_connections,
        "proxy_headers": bool(settings.forwarded_allow_ips),
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        "server_header": False,
        "date_header": True,
        "timeout_graceful_shutdown": settings.shutdown_grace_seconds,
        # the service's own JSON line per request replaces uvicorn's access log
        "access_log": not settings.access_log,
    }


def serve(app: Any, settings: ServiceSettings, *, host: str, port: int, workers: int = 1) -> int:
    """Run uvicorn with these settings until it stops (SIGTERM, SIGINT); 0, or 1 if it never started.

    `app` is an ASGI app, or with several workers the import string of an app factory (each
    worker builds its own).
    """
    config = ServeConfig(app, host=host, port=port, workers=workers, factory=workers > 1,
                         **uvicorn_options(settings))
    server = uvicorn.Server(config)
    try:
        if workers > 1:
            from uvicorn.supervisors import Multiprocess

            Multiprocess(config, sockets=[config.bind_socket()]).run()
            return 0
        server.run()
    except KeyboardInterrupt:  # Ctrl-C: uvicorn has shut down and re-raised the signal (as uvicorn.run)
        pass
    return 0 if server.started else 1


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bounded request head and a cap per client.

    - Size: at most `h11_max_incomplete_event_size` bytes of a head reach the parser; past that,
      431 and the connection is closed (the rest is never read).
    - Time: a head must be complete `header_timeout` seconds after the connection opened, or after
      the first byte of a later request on it; then 408 (or, if the client sent nothing at all,
      a plain close) and the connection is closed. A new connection that sends nothing for
      `first_byte_timeout` seconds is closed without a word.
    - Number: a client with `max_connections_per_client` connections open has a further one
      answered 503 and closed at once (through a trusted proxy: when its request head names it).
    """

    def __init__(self, config: uvicorn.Config, server_state, app_state, _loop=None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.max_head_bytes = config.h11_max_incomplete_event_size or 32_768
        self.header_timeout: float | None = getattr(config, "header_timeout", None)
        self.first_byte_timeout: float | None = getattr(config, "first_byte_timeout", None)
        self.per_client: ClientConnections | None = getattr(config, "client_connections", None)
        self.counted: str | None = None  # the client this connection counts toward
        self.reading_head = True  # the next bytes belong to a request line and headers
        self.head_bytes = 0  # of the head being read
        self.heads = 0  # heads parsed on this connection
        self.head_timer: asyncio.TimerHandle | None = None
        self.silence_timer: asyncio.TimerHandle | None = None

    # --- the clock ---
    def _start_head_clock(self) -> None:
        if self.header_timeout and self.head_timer is None:
            self.head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _stop_head_clock(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_timed_out(self) -> None:
        self.head_timer = None
        if self.transport.is_closing():
            return
        if self.head_bytes:
            self._refuse(408, f"the request line and headers did not arrive within {self.header_timeout:g} s "
                              "(the service's HEADER_TIMEOUT); send the request at once")
        else:  # nothing sent: an idle connection is closed without a word
            self.transport.close()

    def _start_silence_clock(self) -> None:
        if self.first_byte_timeout and (not self.header_timeout or self.first_byte_timeout < self.header_timeout):
            self.silence_timer = self.loop.call_later(self.first_byte_timeout, self._silent)

    def _stop_silence_clock(self) -> None:
        if self.silence_timer is not None:
            self.silence_timer.cancel()
            self.silence_timer = None

    def _silent(self) -> None:
        self.silence_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    # --- connections per client ---
    def _count_toward(self, client: str) -> bool:
        """Count this connection toward `client` (instead of the one it counted toward); False
        when that client has its cap of connections open already."""
        if self.per_client is None or client == self.counted:
            return True
        self._uncount()
        if not self.per_client.take(client):
            return False
        self.counted = client
        return True

    def _uncount(self) -> None:
        if self.per_client is not None and self.counted is not None:
            self.per_client.release(self.counted)
            self.counted = None

    def _forwarded_client_at_cap(self) -> bool:
        """Through a trusted proxy: count this connection toward the client the request head names;
        True when that client has its cap of connections open already."""
        peer = self.client[0] if self.client else None
        if not (self.per_client and peer and self.per_client.is_proxy(peer)):
            return False
        return not self._count_toward(self.per_client.client_of(peer, self.headers))

    def _too_many_detail(self) -> str:
        return (f"this client has {self.per_client.cap} connections open to the service already (its limit, "
                "MAX_CONNECTIONS_PER_CLIENT); reuse or close one, then try again")

    async def _too_many_connections(self, scope, receive, send) -> None:
        """The ASGI app for a proxied request whose client has its cap of connections open."""
        await send_json(send, 503, {"detail": self._too_many_detail()}, {"Retry-After": "1", "Connection": "close"})

    def _refuse(self, status: int, detail: str) -> None:
        """Answer `status` and close; only close while an earlier (pipelined) response is still going."""
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()
            return
        body = json.dumps({"detail": detail}).encode()
        head = [STATUS_LINE[status]]
        head += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
        head += [b"content-type: application/json\r\n", b"content-length: %d\r\n" % len(body),
                 b"retry-after: 1\r\n" if status == 503 else b"", b"connection: close\r\n", b"\r\n"]
        self.transport.write(b"".join(head) + body)
        self.transport.close()

    # --- asyncio.Protocol ---
    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        peer = self.client[0] if self.client else None
        if self.per_client and peer and not self.per_client.is_proxy(peer) and not self._count_toward(peer):
            self._refuse(503, self._too_many_detail())  # at once: it must not hold a slot meanwhile
            return
        self._start_head_clock()
        self._start_silence_clock()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_clock()
        self._stop_silence_clock()
        self._uncount()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._stop_silence_clock()
        if not self.reading_head:
            return super().data_received(data)
        self._start_head_clock()
        room = self.max_head_bytes - self.head_bytes
        head, rest = data[:room], data[room:]
        self.head_bytes += len(head)
        heads = self.heads
        super().data_received(head)
        if not rest or self.transport.is_closing():
            return
        if self.heads == heads:  # the head goes on past the limit
            self._refuse(431, f"the request line and headers are larger than the service's limit of "
                              f"{self.max_head_bytes:,} bytes (MAX_HEADER_BYTES)")
            return
        self.data_received(rest)  # the body, or the next request's head

    # --- parser callbacks ---
    def on_headers_complete(self) -> None:
        self.reading_head = False
        self.heads += 1
        self._stop_head_clock()
        if self._forwarded_client_at_cap():
            app, self.app = self.app, self._too_many_connections  # this request only
            try:
                return super().on_headers_complete()
            finally:
                self.app = app
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.reading_head, self.head_bytes = True, 0
