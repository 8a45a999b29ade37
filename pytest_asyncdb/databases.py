"""A database of its own for each test session (``--asyncdb-create-db``), like pytest-django.

The configured URL then names the server (and a database to connect to for the ``CREATE
DATABASE``); the session runs on a new database ``test_<name>_<random>``, dropped when it ends.
Sessions running at the same time against one server (CI jobs, colleagues, pytest-xdist-style
parallel runs) then never see each other's tables. For a SQLite file the new database is a file
in pytest's temporary directory; an in-memory SQLite database is private already.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import urlsplit

from asyncdb import Database, DatabaseError, DatabaseURL
from pytest_asyncdb.schema import SchemaError

__all__ = ["create_test_database", "drop_test_database"]

#: The shortest identifier limit of the backends (PostgreSQL 63, MySQL 64).
_MAX_NAME = 63


async def create_test_database(url: str, directory: Path) -> str:
    """Create a new, empty database next to ``url``'s; return its URL."""
    parsed = DatabaseURL(url)
    if parsed.backend == "sqlite":
        if parsed.is_memory:
            return url
        query = urlsplit(url).query
        return f"{parsed.scheme}:///{directory / 'test.db'}" + (f"?{query}" if query else "")
    suffix = f"_{uuid.uuid4().hex[:8]}"
    name = f"test_{parsed.database or parsed.backend}"[: _MAX_NAME - len(suffix)] + suffix
    await _admin(url, "CREATE DATABASE {name}", name)
    return urlsplit(url)._replace(path=f"/{name}").geturl()


async def drop_test_database(url: str, test_url: str) -> None:
    """Drop the database ``create_test_database`` made (nothing for SQLite)."""
    parsed = DatabaseURL(test_url)
    if parsed.backend == "sqlite" or test_url == url or parsed.database is None:
        return
    await _admin(url, "DROP DATABASE IF EXISTS {name}", parsed.database)


async def _admin(url: str, statement: str, name: str) -> None:
    database = Database(url, min_size=0, max_size=1)
    try:
        async with database:
            quoted = database.dialect.identifier_preparer.quote(name)
            await database.execute(statement.format(name=quoted))
    except DatabaseError as exc:
        action = statement.split(" {", 1)[0]
        raise SchemaError(
            f"asyncdb: {action} {name} on {database.url.render()} failed: {exc}"
        ) from exc
