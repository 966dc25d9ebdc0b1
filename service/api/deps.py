"""Dependency aliases: routes get the heavy objects built in the lifespan from `app.state`."""

from typing import Annotated

from fastapi import Depends, Request

from ingest.settings import Settings
from service.rag.pipeline import ChatPipeline


def get_pipeline(request: Request) -> ChatPipeline:
    return request.app.state.pipeline


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


PipelineDep = Annotated[ChatPipeline, Depends(get_pipeline)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
