"""Fixtures for the example applications: each app on each backend, driven over HTTP.

``httpx.ASGITransport`` does not run an application's lifespan, so ``run_lifespan`` speaks the
ASGI lifespan protocol to the app the way a server does (startup before the test, shutdown
after). The examples' tables are prefixed ``ex_`` and dropped before (in case a killed run left
them) and after each test: the server databases are shared with other suites, and MySQL DDL is
not transactional.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import AsyncIterator, MutableMapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import httpx
import pytest

import orm
from asyncdb import Database

Message = MutableMapping[str, Any]

APPS = ("starlette_app", "fastapi_app")

# Every test runs on a pool of two connections: enough for an app that releases eagerly.
POOL_OPTIONS = "max_size=2&acquire_timeout=10"


@contextlib.asynccontextmanager
async def run_lifespan(app: Any, timeout: float = 30) -> AsyncIterator[None]:
    """Send ``app`` the lifespan startup before the block and the shutdown after it."""
    to_app: asyncio.Queue[Message] = asyncio.Queue()
    from_app: asyncio.Queue[Message] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
    task = asyncio.create_task(app(scope, to_app.get, from_app.put))

    async def step(phase: str) -> None:
        await to_app.put({"type": f"lifespan.{phase}"})
        reply = asyncio.ensure_future(from_app.get())
        done, _ = await asyncio.wait({reply, task}, timeout=timeout, return_when="FIRST_COMPLETED")
        if reply not in done:
            reply.cancel()
            if task in done:
                task.result()  # the app's own error, if it raised
            raise RuntimeError(f"the app did not complete lifespan.{phase}")
        message = reply.result()
        if message["type"] != f"lifespan.{phase}.complete":
            with contextlib.suppress(Exception):
                await task
            raise RuntimeError(f"lifespan.{phase} failed: {message.get('message', '')}")

    await step("startup")
    try:
        yield
    finally:
        await step("shutdown")
        await task


def client_for(app: Any) -> httpx.AsyncClient:
    """An HTTP client that calls ``app`` in process (no server, no lifespan)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shop")


@dataclass
class Shop:
    """One example app, started on one backend, with its models and an HTTP client."""

    app: Any
    models: ModuleType  # the example's models module (Author, Book, Tag, models)
    client: httpx.AsyncClient

    @property
    def registry(self) -> orm.ModelRegistry:
        registry: orm.ModelRegistry = self.models.models
        return registry

    @property
    def database(self) -> Database:
        return self.registry.get_database()


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
