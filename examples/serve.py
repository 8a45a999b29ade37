"""Serve one of the examples: create the tables that are missing, then run it with uvicorn.

``python -m examples.fastapi_app`` from the repository root, or ``python
path/to/examples/fastapi_app`` from any directory; ``--port`` (default ``$PORT``, else 8000) and
``--host`` (default ``$HOST``, else 127.0.0.1) say where. ``DATABASE_URL`` picks the database
(default: ``bookshop.db`` in the working directory).

A real deployment creates and changes its tables with migrations instead:
``python -m migrations --models examples.fastapi_app.models:models ...`` (docs/migrations.md).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
from collections.abc import Sequence

import uvicorn

import orm
from asyncdb import Database

__all__ = ["serve"]


async def create_tables(url: str, registry: orm.ModelRegistry) -> None:
    async with Database(url) as database:
        await registry.create_all(database)


def serve(example: str, argv: Sequence[str] | None = None) -> None:
    """Create the tables of ``examples.<example>`` and serve its app until interrupted."""
    parser = argparse.ArgumentParser(
        prog=f"python -m examples.{example}",
        description=f"Serve the {example} bookshop (DATABASE_URL picks the database).",
    )
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument(
        "--port", type=int, default=os.environ.get("PORT", "8000"), help="default: $PORT or 8000"
    )
    args = parser.parse_args(argv)
    app_module = importlib.import_module(f"examples.{example}.app")
    registry = importlib.import_module(f"examples.{example}.models").models
    url = os.environ.get("DATABASE_URL") or app_module.DEFAULT_DATABASE_URL
    asyncio.run(create_tables(url, registry))
    uvicorn.run(app_module.create_app(url), host=args.host, port=args.port)
