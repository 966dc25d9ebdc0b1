"""Dependency aliases: routes get the heavy objects built in the lifespan from `app.state`."""

from typing import Annotated

from fastapi import Depends, Request

from service.rag.pipeline import ChatPipeline
from service.settings import ServiceSettings


def get_pipeline(request: Request) -> ChatPipeline:
    return request.app.state.pipeline


def get_settings(request: Request) -> ServiceSettings:
    return request.app.state.settings


PipelineDep = Annotated[ChatPipeline, Depends(get_pipeline)]
SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]
