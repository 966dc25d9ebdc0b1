"""Second red team at the HTTP edge (issue 19, item 7): one client took every connection slot. 300
silent sockets from one address gave /health and chat 503 for 10 s (HEADER_TIMEOUT), 300 stalled
chat bodies for the whole BODY_TIMEOUT, again and again. Now one client holds at most
MAX_CONNECTIONS_PER_CLIENT connections (a trusted proxy's connections count toward the clients it
forwards), and a connection that sends nothing is closed after FIRST_BYTE_TIMEOUT.

The real `rag-serve` process on a loopback port, attacked over raw sockets; each 127.x.y.z address
plays another client. Scaled down: 100 sockets against MAX_CONNECTIONS 64.
"""

from __future__ import annotations

import socket
import time

import pytest

from tests.e2e.hardening.test_faults import copy_index
from tests.e2e.hardening.test_redteam_edge import QUESTION, client, raw, status_and_detail
from tests.fixtures.apps import ask
from tests.fixtures.servers import ServiceProcess, wait_until

MAX_CONNECTIONS = 64
PER_CLIENT = 16
FIRST_BYTE = 3.0  # HEADER_TIMEOUT stays at its default, 10 s
ATTACK = 100  # sockets from one address: more than MAX_CONNECTIONS
ATTACKER, OTHER, PROXY = "127.0.2.1", "127.0.2.2", "127.0.2.50"
TOO_MANY = (f"this client has {PER_CLIENT} connections open to the service already (its limit, "
            "MAX_CONNECTIONS_PER_CLIENT); reuse or close one, then try again")


@pytest.fixture(scope="module")
def served(llm_index, tmp_path_factory):
    """`rag-serve` over a copy of the sample index, with a small connection cap and PROXY trusted."""
    tmp = tmp_path_factory.mktemp("edge2")
    service = ServiceProcess(tmp, chroma_path=copy_index(llm_index, tmp / "chroma"),
                             transcripts_dir=llm_index / "transcripts", answer_mode="extractive",
                             max_connections=MAX_CONNECTIONS, max_connections_per_client=PER_CLIENT,
                             first_byte_timeout=FIRST_BYTE, forwarded_allow_ips=PROXY).start()
    try:
        with client(service.url, "127.0.2.60") as http:  # the first answer loads what is lazy
            assert ask(http, QUESTION).status_code == 200
        yield service
    finally:
        service.stop()


class Sockets:
    """One client's raw connections, and what the server did with each (without waiting)."""

    def __init__(self, sockets: list[socket.socket]):
        self.sockets = sockets
        self.replies = {sock: b"" for sock in sockets}
        self.closed: set[socket.socket] = set()

    def still_open(self) -> int:
        """How many the server still holds open (reading what it sent to the others)."""
        for sock in self.sockets:
            if sock not in self.closed and not self._is_open(sock):
                self.closed.add(sock)
        return len(self.sockets) - len(self.closed)

    def _is_open(self, sock: socket.socket) -> bool:
        sock.setblocking(False)
        try:
            while piece := sock.recv(65536):
                self.replies[sock] += piece
            return False  # an orderly close
        except BlockingIOError:
            return True
        except ConnectionResetError:
            return False

    def refused(self) -> list[tuple[int, str]]:
        return [status_and_detail(self.replies[sock]) for sock in self.closed]

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


def stalled(service, address: str, forwarded: str | None = None) -> socket.socket:
    """POST /v1/chat declaring 80 bytes of body, sending 5, then nothing (through PROXY: for `forwarded`)."""
    sock = raw(service, address)
    via = b"X-Forwarded-For: %s\r\n" % forwarded.encode() if forwarded else b""
    sock.sendall(b"POST /v1/chat HTTP/1.1\r\nHost: edge\r\nContent-Type: application/json\r\n" + via
                 + b"Content-Length: 80\r\n\r\n{\"mes")
    return sock


def others_are_served(service, seconds: float) -> None:
    """Another address: /health again and again for `seconds`, and a chat, all 200."""
    with client(service.url, OTHER) as http:
        started = time.monotonic()
        codes = set()
        while time.monotonic() - started < seconds:
            codes.add(http.get("/health").status_code)
            time.sleep(0.1)
        answer = ask(http, QUESTION)
    assert codes == {200}, codes  # was {503}
    assert answer.status_code == 200 and "Alibaba Cloud" in answer.json()["answer"], answer.text


def health_elsewhere(service) -> int:
    with client(service.url, OTHER) as http:
        return http.get("/health").status_code


def test_the_defaults_cap_each_client_well_below_the_total():
    from service.settings import ServiceSettings

    s = ServiceSettings(_env_file=None)
    assert (s.max_connections_per_client, s.max_connections) == (32, 256)
    assert (s.first_byte_timeout, s.header_timeout) == (2.0, 10.0)


def test_silent_sockets_from_one_address_leave_others_served(served):
    """100 silent sockets from one address, twice: PER_CLIENT are held, the rest get 503 at once;
    the held ones are closed at FIRST_BYTE_TIMEOUT (not HEADER_TIMEOUT); another address is served."""
    for _ in range(2):  # the attack repeated: the count of the first wave was given back
        opened = time.monotonic()
        wave = Sockets([raw(served, ATTACKER) for _ in range(ATTACK)])  # silent
        try:
            time.sleep(0.3)
            assert health_elsewhere(served) == 200  # was 503 until HEADER_TIMEOUT closed them
            wait_until(lambda w=wave: w.still_open() <= PER_CLIENT, FIRST_BYTE - 0.5, "the refusals past the cap")
            assert wave.still_open() == PER_CLIENT and time.monotonic() - opened < FIRST_BYTE
            assert set(wave.refused()) == {(503, TOO_MANY)}
            others_are_served(served, 1.0)
            wait_until(lambda w=wave: w.still_open() == 0, FIRST_BYTE + 3, "the silent connections to close")
            assert time.monotonic() - opened < FIRST_BYTE + 3  # HEADER_TIMEOUT would be 10 s
        finally:
            wave.close()


def test_stalled_chat_bodies_from_one_address_leave_others_served(served):
    """100 chat bodies from one address that never end, twice: PER_CLIENT wait for BODY_TIMEOUT,
    the rest are refused at once, and another address's /health and chats are answered."""
    for _ in range(2):
        wave = Sockets([stalled(served, ATTACKER) for _ in range(ATTACK)])
        try:
            time.sleep(0.3)
            assert health_elsewhere(served) == 200  # was 503 for the whole BODY_TIMEOUT
            wait_until(lambda w=wave: w.still_open() <= PER_CLIENT, 5, "the refusals past the cap")
            time.sleep(0.5)
            assert wave.still_open() == PER_CLIENT
            # 503 when it came in time; a reset when the request was still unread at the close
            assert set(wave.refused()) <= {(503, TOO_MANY), (0, "")}, set(wave.refused())
            others_are_served(served, 2.0)
            assert wave.still_open() == PER_CLIENT  # BODY_TIMEOUT (60 s) is not over
        finally:
            wave.close()
        time.sleep(0.5)  # the server sees the closes


def test_a_trusted_proxy_counts_toward_the_clients_it_forwards(served):
    """Through PROXY (FORWARDED_ALLOW_IPS), one forwarded client stalls PER_CLIENT + 4 chat bodies:
    the last 4 get 503, while the proxy's further connections for another client are answered."""
    wave = Sockets([stalled(served, PROXY, "203.0.113.7") for _ in range(PER_CLIENT + 4)])
    try:
        wait_until(lambda: wave.still_open() <= PER_CLIENT, 5, "the refusals past the cap")
        time.sleep(0.5)
        assert wave.still_open() == PER_CLIENT
        assert wave.refused() == [(503, TOO_MANY)] * 4
        with client(served.url, PROXY) as http:  # more connections from the proxy's own address
            assert http.get("/health", headers={"X-Forwarded-For": "203.0.113.8"}).status_code == 200
            r = http.post("/v1/chat", json={"messages": [{"role": "user", "content": QUESTION}]},
                          headers={"X-Forwarded-For": "203.0.113.8"})
            assert r.status_code == 200 and "Alibaba Cloud" in r.json()["answer"]
            r = http.get("/health", headers={"X-Forwarded-For": "203.0.113.7"})
            assert r.status_code == 503 and r.json()["detail"] == TOO_MANY
    finally:
        wave.close()


@pytest.mark.parametrize("key, ok", [("short-key", False), ("x" * 15, False), ("x" * 16, True)])
def test_an_api_key_too_short_to_resist_guessing_is_refused_at_start(key, ok):
    """A correct key is never refused for someone else's wrong guesses (item 13), so wrong keys are
    only slowed, never stopped: the key's length is what makes guessing hopeless."""
    from pydantic import SecretStr, ValidationError

    from service.settings import ServiceSettings

    if ok:
        assert ServiceSettings(_env_file=None, api_key=SecretStr(key)).api_key.get_secret_value() == key
        return
    with pytest.raises(ValidationError, match="API_KEY must be at least 16 characters"):
        ServiceSettings(_env_file=None, api_key=SecretStr(key))
