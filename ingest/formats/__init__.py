"""Transcript formats beyond plain and speaker-labelled text (registered in `ingest.parse.PARSERS`).

Each parser builds a normalised plain text (`Transcript.text`) while it reads, with the spans
of answer paragraphs into it, and leaves the sorting into questions and answers to
`ingest.parse.assemble`.
"""
