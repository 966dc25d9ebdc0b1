"""What runs beside the answers: ingest jobs, metrics, store health, the local LLM server."""
