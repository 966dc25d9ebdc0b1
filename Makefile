# The README's commands. Everything a fresh machine needs is installed from here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: run test ingest eval lint llm clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch is installed on its own first, pinned: left to the resolver it pulls a multi-GB CUDA build.
$(VENV)/.base: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev: pyproject.toml $(VENV)/.base
	$(BIN)/pip install -q -e '.[dev,llm]'
	touch $@

## run: set up, ingest data/transcripts if the index is empty, serve on http://127.0.0.1:8000
run: $(VENV)/.base
	$(BIN)/rag-serve

ingest: $(VENV)/.base
	$(BIN)/rag-ingest

eval: $(VENV)/.base
	$(BIN)/rag-eval ../shared/eval/dev.jsonl

## browser: Debian's Chromium and fonts for the UI tests (Playwright cannot download browsers here)
browser:
	@command -v chromium >/dev/null 2>&1 && [ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core fonts-liberation)

## test: set up with the dev extra and run the whole suite
test: $(VENV)/.dev browser
	$(BIN)/pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check ingest service tests

clean:
	rm -rf var .pytest_cache test-artifacts
