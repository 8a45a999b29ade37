"""Run the PostgreSQL half of the test suite through a real PgBouncer in transaction mode.

    python -m tests.scaleout.run_suite_through_pgbouncer [pytest arguments]

Starts a private PgBouncer (``pool_mode = transaction``, fewer server connections than the
client pools use) in front of a database of this run on the PostgreSQL test server (other
databases are reachable too, for the tests that create their own), points
``ASYNCDB_TEST_POSTGRES_URL`` at it with ``?pgbouncer=true``, and runs ``tests/asyncdb`` and
``tests/orm`` on PostgreSQL only. Tests that kill server processes by pid are deselected (see
``NEEDS_DIRECT_SERVER``). The exit status is pytest's.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

from asyncdb import Database
from tests.conftest import SERVER_URLS

from .pgbouncer import PgBouncer, find_pgbouncer

ROOT = Path(__file__).resolve().parents[2]
SERVER_POOL_SIZE = 4

#: Tests that kill server processes by the pid a client sees, which behind PgBouncer is
#: PgBouncer's own: the kill misses, so they do not test what they say there.
NEEDS_DIRECT_SERVER = [
    "test_pool.py::test_server_killed_connections_are_replaced",
    "test_pool.py::test_server_kill_inside_transaction_is_operational_error",
]


def main(argv: list[str]) -> int:
    executable = find_pgbouncer()
    if executable is None:
        print("pgbouncer is not installed: run tests/scaleout/ensure_pgbouncer.sh", file=sys.stderr)
        return 1
    url = SERVER_URLS["postgresql"]
    server = Database(url).url
    # A database of this run only: other runs may use the shared test database meanwhile.
    private = f"pgb_suite_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(url, f"CREATE DATABASE {private}"))
    bouncer = PgBouncer(
        executable,
        server_host=server.host or "127.0.0.1",
        server_port=server.port or 5432,
        server_db=private,
        user=server.user or "postgres",
        password=server.password,
        alias=server.database or "test",
        pool_size=SERVER_POOL_SIZE,
        any_database=True,
    )
    try:
        bouncer.start()
        env = {**os.environ, "ASYNCDB_TEST_POSTGRES_URL": bouncer.url(pgbouncer="true")}
        deselect = [f"--deselect=tests/asyncdb/{t}[postgresql]" for t in NEEDS_DIRECT_SERVER]
        command = [
            sys.executable,
            "-m",
            "pytest",
            "tests/asyncdb",
            "tests/orm",
            "-k",
            "postgresql",
            "-p",
            "no:cacheprovider",
            *deselect,
            *argv,
        ]
        return subprocess.run(command, cwd=ROOT, env=env).returncode
    finally:
        bouncer.stop()
        asyncio.run(_admin(url, f"DROP DATABASE IF EXISTS {private} WITH (FORCE)"))


async def _admin(url: str, sql: str) -> None:
    async with Database(url, min_size=0, max_size=1) as admin:
        await admin.execute(sql)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
