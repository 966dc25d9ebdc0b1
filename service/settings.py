"""The service's settings (env vars and `.env`): everything `rag-serve` and the app read beyond the
index and the ingest job's settings, which it extends because the service runs syncs too."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from ingest.settings import IngestSettings


class ServiceSettings(IngestSettings):
    """The service's own: waiting for Chroma, retrieval and answering, the LLM backend, re-ingest
    through the API, the HTTP server, limits and abuse. Built once by the app factory (or rag-serve)
    and passed down; inherits the index and ingest settings with their environment names."""

    # --- reaching the Chroma server ---
    chroma_connect_attempts: int = Field(
        30, ge=1, description="Heartbeats the service tries at start-up before giving up on the Chroma server."
    )
    chroma_connect_delay: float = Field(
        1.0, ge=0.0, description="Seconds between those start-up heartbeats."
    )
    chroma_check_timeout: float = Field(
        2.0, gt=0, description="Seconds a readiness heartbeat (/ready, /health) waits for the Chroma server."
    )
    index_check_seconds: float = Field(
        2.0, ge=0.0, description="How often (at most) each worker checks the index version recorded in "
        "Chroma and reloads its keyword index after another process or worker re-ingested.",
    )

    # --- retrieval and answering ---
    top_k: int = Field(5, ge=1, le=20, description="Passages returned when a request does not say.")
    candidates: int = Field(30, ge=5, le=200, description="Passages the retriever hands to the reranker.")
    params_file: Path | None = Field(
        None, description="The fitted parameters of retrieval and answering (fusion weights, abstention, "
        "passage size); unset: the shipped service/rag/params.json. Write another with rag-tune."
    )
    max_question_chars: int = Field(2000, ge=10, description="Longest question accepted.")
    answer_mode: Literal["extractive", "llm"] = Field(
        "extractive", description="`extractive` (built-in, no LLM) or `llm` (any OpenAI-compatible server)."
    )

    # --- LLM backend (answer_mode=llm) ---
    llm_base_url: str = Field("http://127.0.0.1:8080/v1", description="OpenAI-compatible endpoint.")
    llm_model: str = Field("local", description="Model name sent to the LLM server.")
    llm_api_key: str = Field("not-needed", description="API key for the LLM server.")
    llm_timeout: float = Field(60.0, gt=0, description="Seconds before an LLM call is abandoned.")
    llm_max_tokens: int = Field(256, ge=16, description="Longest generated answer, in tokens.")
    llm_temperature: float = Field(0.0, ge=0.0, le=2.0, description="Sampling temperature.")
    llm_extra_body: dict[str, Any] = Field(
        default_factory=dict,
        description='Extra JSON fields sent with every LLM request, for server-specific options, '
        'e.g. {"top_k": 20} for vLLM or {"repeat_penalty": 1.1} for llama.cpp.',
    )
    llm_fallback: bool = Field(
        False,
        description="When the LLM server is down or times out before answering, answer with the "
        "built-in extractive answerer instead of failing with 503/504.",
    )
    llm_evidence_gate: bool = Field(
        True,
        description="In llm mode, run the built-in answerer's evidence check first and abstain without "
        "asking the model when it finds no answer in the passages (the fitted abstention model, "
        "service/rag/params.json). Small models tend to answer questions the transcripts do not cover; "
        "this also skips their latency.",
    )
    context_budget_tokens: int = Field(
        400,
        ge=50,
        le=32000,
        description="Tokens of passages packed into the answer prompt, best first (estimated as "
        "characters / 4). Prompt size drives time to first token: on 2 CPU cores the bundled "
        "1.5B model reads about 40 tokens a second.",
    )

    # --- re-ingest through the service (API_KEY: IngestSettings, rag-ingest sends it) ---
    max_upload_bytes: int = Field(5_000_000, ge=1, description="Largest transcript file accepted by upload.")
    rebuild_grace_seconds: float = Field(
        2.0, ge=0.0, description="After a rebuild switches generations, wait this long before dropping "
        "the old one, so requests already running on it finish.",
    )
    key_failure_limit: float = Field(
        6.0, ge=0.0, description="Wrong API keys one client (address) may send to the ingest API per "
        "minute, after KEY_FAILURE_BURST; past it that client's further wrong keys get 429 with "
        "Retry-After instead of 401. A correct key always passes, even from that client, and never "
        "counts. 0: no limit.",
    )
    key_failure_burst: int = Field(
        10, ge=1, description="Wrong API keys one client may send in a row before KEY_FAILURE_LIMIT applies."
    )

    # --- HTTP service ---
    host: str = Field("127.0.0.1", description="Interface the service binds.")
    port: int = Field(8000, description="Port the service binds.")
    workers: int = Field(
        1, ge=1, le=64, description="Worker processes of `rag-serve`; more than one needs CHROMA_HOST "
        "(the embedded store is single-process).",
    )

    # --- limits and abuse (service/edge/) ---
    max_request_bytes: int = Field(
        1_000_000, ge=1024, description="Largest request body; a larger one gets 413 before it is read."
    )
    max_upload_request_bytes: int = Field(
        20_000_000, ge=1024, description="Largest body of POST /v1/transcripts (all files of one upload)."
    )
    max_turns: int = Field(
        50, ge=1, le=50, description="Most messages in one chat request (50 is also the API's own ceiling)."
    )
    max_conversation_chars: int = Field(
        20_000, ge=100, description="Most characters in all messages of one chat request together; more "
        "gets 413 before anything is embedded.",
    )
    request_timeout: float = Field(
        120.0, ge=0.0, description="Seconds one answer (retrieval and generation) may take: then 504, or an "
        "`error` event in a stream. 0: no limit.",
    )
    max_concurrent_chats: int = Field(
        32, ge=0, description="Chat requests one worker answers at once (streams count until they end); "
        "past it a fast 503 with Retry-After. 0: no limit.",
    )
    chat_rate_limit: float = Field(
        60.0, ge=0.0, description="Chat requests per minute per client (per API key when API_KEY is set and "
        "sent, else per address); past it 429 with Retry-After. The default never slows a person at the "
        "page, paces a script to one answer a second after its burst, and keeps one client from taking "
        "every MAX_CONCURRENT_CHATS slot. 0: no limit.",
    )
    chat_rate_burst: int = Field(10, ge=1, description="Chat requests a client may send at once before "
                                 "CHAT_RATE_LIMIT applies (keep it under MAX_CONCURRENT_CHATS).")
    ingest_rate_limit: float = Field(
        0.0, ge=0.0, description="Ingest requests (POST /v1/ingest, /v1/transcripts) per minute per client. "
        "0: no limit.",
    )
    ingest_rate_burst: int = Field(2, ge=1, description="Ingest requests a client may send at once.")
    rate_limit_store: Path | None = Field(
        None, description="SQLite file holding the rate-limit buckets, shared by all workers of one host. "
        "Unset: each worker counts on its own (N workers allow N times the rate).",
    )
    cors_origins: list[str] = Field(
        default_factory=list, description='Origins allowed to call the API from a browser, as JSON: '
        '["https://chat.example.org"]. Empty: no CORS headers (same-origin only).',
    )
    cors_allow_credentials: bool = Field(
        False, description="Allow cookies/credentials on cross-origin calls; never with the origin \"*\"."
    )
    answer_link_hosts: list[str] = Field(
        default_factory=list, description="Hosts that answers may link to. Links and images to any other "
        "address are removed from answers (model output and quotes alike).",
    )
    access_log: bool = Field(
        True, description="One JSON line per request on stderr (logger `service.access`) with its request id."
    )
    min_free_disk_mb: int = Field(
        50, ge=0, description="An ingest through the service does not start with less free disk space than "
        "this where the embedded store lives (507). 0: no check.",
    )
    shutdown_grace_seconds: float = Field(
        10.0, ge=0.0, description="On SIGTERM `rag-serve` stops accepting, lets answers in progress finish "
        "for up to this long, then closes the rest and exits.",
    )
    header_timeout: float = Field(
        10.0, gt=0, description="Seconds a client has to send a request's line and headers, from the "
        "moment it connects (or sends the first byte of its next request); then 408 and the connection "
        "is closed. Bounds slow-header (slowloris) and silent connections.",
    )
    max_header_bytes: int = Field(
        32_768, ge=4096, le=1_048_576, description="Largest request line plus headers; a larger one gets "
        "431 and the connection is closed before more of it is read.",
    )
    body_timeout: float = Field(
        60.0, gt=0, description="Seconds a request body may take to arrive in full (uploads included); "
        "then 408 and the connection is closed. A chat counts toward MAX_CONCURRENT_CHATS only once "
        "its body is in.",
    )
    keep_alive_timeout: float = Field(
        5.0, gt=0, description="Seconds an idle keep-alive connection stays open between requests.",
    )
    max_connections: int = Field(
        256, ge=1, description="Open connections one worker accepts (uvicorn's limit_concurrency); past "
        "it every new request gets 503 until some close.",
    )
    max_connections_per_client: int = Field(
        32, ge=0, description="Open connections one worker accepts from one client (its address, or "
        "behind a proxy in FORWARDED_ALLOW_IPS the forwarded one), so that no client can take every "
        "MAX_CONNECTIONS slot; a connection past it gets 503 and is closed at once. A proxy's own "
        "connections count toward the clients they carry. 0: no cap.",
    )
    first_byte_timeout: float = Field(
        2.0, gt=0, description="Seconds a new connection may stay silent before the first byte of its "
        "request; then it is closed without a word (HEADER_TIMEOUT still bounds the whole head). Bounds "
        "connections opened only to hold a slot.",
    )
    forwarded_allow_ips: str = Field(
        "", description="Addresses or networks of reverse proxies whose X-Forwarded-For / "
        "X-Forwarded-Proto the service trusts, comma-separated (uvicorn's format, e.g. "
        "`127.0.0.1` or `10.0.0.0/8`). Empty: forwarded headers are ignored and the client is the "
        "connecting address (rate limits and the loopback check use it).",
    )

    @field_validator("cors_allow_credentials")
    @classmethod
    def _no_credentials_with_any_origin(cls, value: bool, info) -> bool:
        if value and "*" in info.data.get("cors_origins", []):
            raise ValueError('CORS_ALLOW_CREDENTIALS cannot be used with CORS_ORIGINS ["*"]; list the origins')
        return value
