"""Fixtures for the scale-out tests: a real PgBouncer in transaction pooling mode.

``pgbouncer`` (one per session) puts a private PgBouncer, ``pool_mode = transaction`` with
``default_pool_size = 2``, in front of a private database (``pgb_<random>``, created here and
dropped at the end) on the PostgreSQL test server. PgBouncer comes from Debian's package:
``tests/scaleout/ensure_pgbouncer.sh`` installs it. Without it these tests are skipped, and
under ``CI=true`` they fail.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from asyncdb import Database
from tests.conftest import IN_CI, server_url

from .pgbouncer import PgBouncer, find_pgbouncer

#: Server connections PgBouncer may open: fewer than the client pools use, on purpose.
SERVER_POOL_SIZE = 2


async def _admin(url: str, sql: str) -> None:
    async with Database(url, min_size=0, max_size=1) as admin:
        await admin.execute(sql)


@pytest.fixture(scope="session")
def pgbouncer() -> Iterator[PgBouncer]:
    """A running PgBouncer (transaction mode, 2 server connections) over a private database."""
    executable = find_pgbouncer()
    if executable is None:
        message = "pgbouncer is not installed: run tests/scaleout/ensure_pgbouncer.sh (as root)"
        if IN_CI:
            pytest.fail(message + " (required under CI=true)")
        pytest.skip(message)
    url = server_url("postgresql")
    server = Database(url).url
    name = f"pgb_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(url, f"CREATE DATABASE {name}"))
    bouncer = PgBouncer(
        executable,
        server_host=server.host or "127.0.0.1",
        server_port=server.port or 5432,
        server_db=name,
        user=server.user or "postgres",
        password=server.password,
        pool_size=SERVER_POOL_SIZE,
    )
    try:
        bouncer.start()
        yield bouncer
    finally:
        bouncer.stop()
        asyncio.run(_admin(url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
