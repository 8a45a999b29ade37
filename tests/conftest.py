"""Shared test configuration: one suite parametrised over the three backends.

SQLite always runs (a file in the test's temporary directory). PostgreSQL and MySQL come from
``ASYNCDB_TEST_POSTGRES_URL`` / ``ASYNCDB_TEST_MYSQL_URL`` and default to the local servers.
Under ``CI=true`` an unreachable server fails the run; elsewhere its tests are skipped with a
message saying how to point the suite at one.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from asyncdb import Database

SERVER_URLS = {
    "postgresql": os.environ.get(
        "ASYNCDB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
    ),
    "mysql": os.environ.get("ASYNCDB_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test"),
}
ENV_VARS = {"postgresql": "ASYNCDB_TEST_POSTGRES_URL", "mysql": "ASYNCDB_TEST_MYSQL_URL"}
BACKENDS = ("sqlite", "postgresql", "mysql")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

_reachability: dict[str, str | None] = {}


def _unreachable_reason(backend: str) -> str | None:
    """Return why ``backend``'s server cannot be used, or None when it can (cached)."""
    if backend not in _reachability:

        async def probe() -> None:
            db = Database(SERVER_URLS[backend], min_size=0, max_size=1, acquire_timeout=5)
            async with db:
                await db.fetch_val("SELECT 1")

        try:
            asyncio.run(probe())
        except Exception as exc:  # any failure means "not usable"
            _reachability[backend] = f"{type(exc).__name__}: {exc}"
        else:
            _reachability[backend] = None
    return _reachability[backend]


def server_url(backend: str) -> str:
    """The URL of ``backend``'s test server; fails (CI) or skips (elsewhere) when unreachable."""
    reason = _unreachable_reason(backend)
    if reason is not None:
        message = (
            f"{backend} test server unreachable ({reason}); set {ENV_VARS[backend]} "
            f"to a reachable {backend} URL to run these tests"
        )
        if IN_CI:
            pytest.fail(message + " (required under CI=true)")
        pytest.skip(message)
    return SERVER_URLS[backend]


def make_url(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return server_url(backend)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "backends(*names): run this test only on the named backends")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        # Every `backends` mark applies: the test's own and its module's (`pytestmark`), so a
        # module that re-runs tests written for all backends can narrow them to some.
        names = [
            name
            for name in BACKENDS
            if all(name in mark.args for mark in metafunc.definition.iter_markers("backends"))
        ]
        metafunc.parametrize("backend", names)


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> str:
    """A URL for the parametrised backend (SQLite: a fresh file per test)."""
    return make_url(backend, tmp_path)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A connected ``Database`` for the parametrised backend; disconnected afterwards."""
    database = Database(database_url)
    await database.connect()
    try:
        yield database
    finally:
        await database.disconnect()


@pytest.fixture
async def private_database_url(backend: str, database_url: str) -> AsyncIterator[str]:
    """A URL of an empty database only this test uses (servers: created and dropped here)."""
    if backend == "sqlite":
        yield database_url
        return
    name = f"priv_{uuid.uuid4().hex[:12]}"
    async with Database(database_url) as admin:
        await admin.execute(f"CREATE DATABASE {name}")
    url = Database(database_url).url
    private = url.render(hide_password=False).replace(f"/{url.database}", f"/{name}", 1)
    try:
        yield private
    finally:
        force = " WITH (FORCE)" if backend == "postgresql" else ""
        async with Database(database_url) as admin:
            await admin.execute(f"DROP DATABASE IF EXISTS {name}{force}")
