"""Who may use the ingest API, decided from the request's headers before a byte of its body is read.

`authorize` is the one key check and `check_site` the one cross-site check; the routes'
`require_key` runs them too. `IngestAuth` runs them in front of the ingest paths (a 19 MB upload
without its key is refused at once, not after it has been read) and limits wrong keys per client
(address, or the forwarded one from FORWARDED_ALLOW_IPS): after KEY_FAILURE_BURST wrong keys, a
client's further wrong keys get 429 with Retry-After (KEY_FAILURE_LIMIT a minute) instead of 401.
The key is always compared first (in constant time), and a correct key always passes: behind a
reverse proxy every client shares one address, and a guesser there must not lock the key holder
out. A blocked client's wrong keys are compared too and refused, so the 429 tells a guesser no
more than a 401 would; what keeps a key from being guessed is its length (a long random key). With
RATE_LIMIT_STORE the failure count is shared by the workers of one host.

Policy for a self-hosted service:
- API_KEY set: X-API-Key must match (constant-time compare), from any address.
- API_KEY unset: only loopback clients; from a browser only through a loopback address (a
  DNS-rebinding page reaches 127.0.0.1 under its own host name, which is refused).
- Either way a page on another site, or on another port of this machine, may not ingest
  (Sec-Fetch-Site cross-site/same-site, or an Origin that is not this service's): a no-cors
  form post needs no CORS consent. Only origins listed in CORS_ORIGINS (not "*") may.
"""

from __future__ import annotations

import hmac
import ipaddress
from urllib.parse import urlsplit

from service.edge.asgi import INGEST_PATHS, UPLOAD_PATH, header, send_json
from service.edge.rate_limit import MemoryBuckets, SqliteBuckets
from service.settings import ServiceSettings

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
JOB_PREFIX = "/v1/ingest/"


class Refused(Exception):
    """An ingest request that may not go on: the status and a message a person can act on."""

    def __init__(self, status: int, detail: str, wrong_key: bool = False):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.wrong_key = wrong_key  # a key was sent and did not match (counted by KEY_FAILURE_LIMIT)


def is_ingest_path(path: str, method: str = "POST") -> bool:
    """An ingest request: POST /v1/ingest, an upload to /v1/transcripts, an ingest job. Reading the
    transcripts (GET /v1/transcripts, GET /v1/transcripts/{id}) is open like the chat."""
    if path == UPLOAD_PATH:
        return method not in SAFE_METHODS
    return path in INGEST_PATHS or path.startswith(JOB_PREFIX)


def authorize(settings: ServiceSettings, client: str, sent_key: str | None) -> str:
    """The caller's label for the job record; Refused (401/403) when it may not ingest."""
    expected = settings.api_key.get_secret_value() if settings.api_key else None
    if expected is None:
        if client not in LOOPBACK:
            raise Refused(403, "re-ingest is only open to this machine while no API_KEY is configured; "
                               "set API_KEY on the service and send it as X-API-Key")
        return client
    if not sent_key:
        raise Refused(401, "missing API key: send it in the X-API-Key header")
    if not hmac.compare_digest(sent_key.encode(), expected.encode()):
        raise Refused(401, "wrong API key in the X-API-Key header", wrong_key=True)
    return f"key …{sent_key[-4:]}" if len(sent_key) > 8 else "key"


def _netloc(url_or_host: str, scheme: str) -> str:
    """host[:port] in lower case, without the scheme's default port."""
    netloc = url_or_host.strip().lower()
    default = ":443" if scheme == "https" else ":80"
    return netloc.removesuffix(default)


def _is_loopback_host(host: str) -> bool:
    name = urlsplit(f"//{host}").hostname or ""
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_site(settings: ServiceSettings, scope) -> None:
    """Refused (403) for a state-changing request sent by a page on another site (see the module)."""
    origin = header(scope, b"origin")
    fetch_site = header(scope, b"sec-fetch-site")
    if origin is None and fetch_site is None:
        return  # not sent by a web page: curl, scripts, rag-ingest
    if origin is not None and origin in settings.cors_origins:
        return  # the operator allowed this page by name
    host = header(scope, b"host") or ""
    same_origin = True
    if origin is not None:
        parts = urlsplit(origin)
        same_origin = bool(parts.netloc) and _netloc(parts.netloc, parts.scheme) == _netloc(host, parts.scheme)
    if fetch_site in ("cross-site", "same-site") or not same_origin:
        raise Refused(403, f"ingest requests sent by a page on another site are refused (Origin: "
                           f"{(origin or 'none')[:100]}, Sec-Fetch-Site: {(fetch_site or 'none')[:20]}): "
                           "upload through this service's own address, from a script or curl, or list the "
                           "page's origin in CORS_ORIGINS")
    if settings.api_key is None and not _is_loopback_host(host):
        raise Refused(403, f"with no API_KEY configured a browser may only ingest through a loopback address "
                           f"(http://127.0.0.1 or localhost), not '{host[:100]}'; set API_KEY to ingest "
                           "through another address")


def check_request(settings: ServiceSettings, scope, client: str, sent_key: str | None) -> str:
    """Both checks for one ingest request; the caller's label, or Refused."""
    if scope.get("method") not in SAFE_METHODS:
        check_site(settings, scope)
    return authorize(settings, client, sent_key)


class IngestAuth:
    """Pure-ASGI check in front of the ingest paths: runs before the body is read (401/403/429)."""

    def __init__(self, app, settings: ServiceSettings):
        self.app = app
        self.settings = settings
        self.buckets = SqliteBuckets(settings.rate_limit_store) if settings.rate_limit_store else MemoryBuckets()

    def _count_failure(self, client: str) -> int | None:
        """Take one failure token; seconds to wait (Retry-After) when the client has none left."""
        wait = self.buckets.take(f"keyfail|ip:{client}", self.settings.key_failure_limit / 60,
                                 self.settings.key_failure_burst)
        return max(1, int(wait + 0.999)) if wait else None

    async def _too_many(self, send, retry: int) -> None:
        s = self.settings
        await send_json(send, 429, {
            "detail": f"too many wrong API keys from this client (KEY_FAILURE_LIMIT: {s.key_failure_limit:g} a "
                      f"minute after {s.key_failure_burst}); try again in {retry} s"},
            {"Retry-After": str(retry), "Connection": "close"})

    async def __call__(self, scope, receive, send):
        method = scope.get("method", "")
        if scope["type"] != "http" or method == "OPTIONS" or not is_ingest_path(scope.get("path", ""), method):
            return await self.app(scope, receive, send)
        client = scope["client"][0] if scope.get("client") else "unknown"
        try:
            check_request(self.settings, scope, client, header(scope, b"x-api-key"))
        except Refused as refused:
            if refused.wrong_key and self.settings.key_failure_limit and (retry := self._count_failure(client)):
                return await self._too_many(send, retry)
            # The body is never read: close the connection rather than drain it.
            return await send_json(send, refused.status, {"detail": refused.detail}, {"Connection": "close"})
        await self.app(scope, receive, send)
