"""`python -m ingest`: the same as `rag-ingest`."""

import sys

from ingest.cli import main

sys.exit(main())
