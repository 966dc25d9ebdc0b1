"""Open connections per client, capped (MAX_CONNECTIONS_PER_CLIENT): one client cannot take every
connection slot (MAX_CONNECTIONS) and leave everyone else with 503.

A connection's client is its peer address, as for the rate limits. A connection from a reverse
proxy trusted by FORWARDED_ALLOW_IPS carries the requests of many clients: it counts toward no one
until a request head arrives, then toward the client its X-Forwarded-For names (read by uvicorn's
own rules, as the app sees it), request by request. The counts are per worker, like MAX_CONNECTIONS.
"""

from __future__ import annotations

from collections import Counter

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware


class ClientConnections:
    """How many connections each client has open in this worker, and whether one more may open."""

    def __init__(self, cap: int, trusted_proxies: list[str] | str | None = None):
        self.cap = cap
        self.open: Counter[str] = Counter()
        # uvicorn's reading of FORWARDED_ALLOW_IPS and X-Forwarded-For: the client the app is told of
        self.proxies = ProxyHeadersMiddleware(None, trusted_proxies).trusted_hosts if trusted_proxies else None

    def is_proxy(self, peer: str) -> bool:
        """A trusted reverse proxy: its connections count toward the clients it forwards."""
        return self.proxies is not None and peer in self.proxies

    def client_of(self, peer: str, headers: list[tuple[bytes, bytes]]) -> str:
        """Who sent a request that came from `peer` with these (lower-case) headers."""
        if not self.is_proxy(peer):
            return peer
        forwarded = [value for name, value in headers if name == b"x-forwarded-for"]
        if not forwarded:
            return peer
        host, _ = self.proxies.get_trusted_client_address(b", ".join(forwarded).decode("latin-1"))
        return host or peer

    def take(self, client: str) -> bool:
        """Count one more connection of `client`; False (nothing counted) when it has `cap` open."""
        if self.open[client] >= self.cap:
            return False
        self.open[client] += 1
        return True

    def release(self, client: str) -> None:
        self.open[client] -= 1
        if self.open[client] <= 0:
            del self.open[client]
