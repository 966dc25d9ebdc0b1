"""One router per area: chat, the OpenAI facade, ingest, status (health, readiness, metrics, starters),
transcripts (the list and one transcript)."""
