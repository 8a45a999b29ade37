"""Helpers for the example applications' tests: the ASGI lifespan, an in-process client.

``httpx.ASGITransport`` does not run an application's lifespan, so ``run_lifespan`` speaks the
ASGI lifespan protocol to the app the way a server does (startup before the block, shutdown
after).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, MutableMapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import httpx

import orm
from asyncdb import Database

__all__ = ["Shop", "client_for", "run_lifespan"]

Message = MutableMapping[str, Any]


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
