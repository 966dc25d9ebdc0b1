"""Writes the index: parse (formats/), chunk, embed and sync transcripts into Chroma (cli is
`rag-ingest`). Also owns what the service shares with it: settings.py, store.py, embed.py."""
