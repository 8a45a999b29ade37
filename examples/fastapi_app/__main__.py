"""``python -m examples.fastapi_app``: create the tables that are missing, then serve on :8000.

A real deployment creates and changes its tables with migrations instead:
``python -m migrations --models examples.fastapi_app.models:models ...`` (docs/migrations.md).
"""

from __future__ import annotations

import asyncio
import os

import uvicorn

from asyncdb import Database

from .app import DEFAULT_DATABASE_URL, app
from .models import models


async def create_tables(url: str) -> None:
    async with Database(url) as database:
        await models.create_all(database)


if __name__ == "__main__":
    asyncio.run(create_tables(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)))
    uvicorn.run(app)
