"""The edge: what every request passes before and after the routes (limits, logs, auth of ingest)."""
