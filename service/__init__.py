"""The service: the FastAPI app (app.py) over rag/ (answering), api/ (routes), edge/ (what every
request passes) and ops/ (jobs, metrics, health, the local LLM)."""
