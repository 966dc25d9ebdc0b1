"""The ASGI app for uvicorn (`uvicorn service.main:app`), built from the environment."""

from service.app import create_app

app = create_app()
