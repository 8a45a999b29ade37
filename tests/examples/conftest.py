"""Fixtures for the example applications: each app on each backend, driven over HTTP.

The examples' tables are prefixed ``ex_`` and dropped before (in case a killed run left them)
and after each test: the server databases are shared with other suites, and MySQL DDL is not
transactional.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator

import pytest

import orm

from .support import Shop, client_for, run_lifespan

APPS = ("starlette_app", "fastapi_app")

# Every test runs on a pool of two connections: enough for an app that releases eagerly.
POOL_OPTIONS = "max_size=2&acquire_timeout=10"


@pytest.fixture(params=APPS)
def example(request: pytest.FixtureRequest) -> str:
    """The package name of the example app under test."""
    name: str = request.param
    return name


@pytest.fixture
async def shop(example: str, database_url: str) -> AsyncIterator[Shop]:
    """The example app on the parametrised backend, started, with empty tables."""
    app_module = importlib.import_module(f"examples.{example}.app")
    models = importlib.import_module(f"examples.{example}.models")
    app = app_module.create_app(f"{database_url}?{POOL_OPTIONS}")
    async with run_lifespan(app):
        registry: orm.ModelRegistry = models.models
        await registry.drop_all()
        await registry.create_all()
        try:
            async with client_for(app) as client:
                yield Shop(app=app, models=models, client=client)
        finally:
            await registry.drop_all()
