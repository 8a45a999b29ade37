"""Server-side views of the connections a ``Database`` opened (for adversity tests)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from asyncdb import Database, DatabaseError


def track_connections(db: Database) -> list[Any]:
    """Record the server's id (PostgreSQL pid, MySQL thread id) of every connection ``db``
    opens from now on; returns the list that fills up."""
    ids: list[Any] = []
    backend = db._backend
    original = backend.connect

    async def connect() -> Any:
        conn = await original()
        raw = conn.raw
        if db.features.backend == "postgresql":
            ids.append(raw.get_server_pid())
        elif db.features.backend == "mysql":
            ids.append(raw.thread_id())
        else:
            ids.append(conn)
        return conn

    backend.connect = connect  # type: ignore[method-assign]
    return ids


async def open_transactions(admin: Database, db: Database, ids: list[Any]) -> int:
    """How many of ``ids`` the server shows inside an open transaction."""
    backend = db.features.backend
    if not ids:
        return 0
    if backend == "postgresql":
        return int(
            await admin.fetch_val(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:ids) "
                "AND state LIKE 'idle in transaction%'",
                {"ids": list(ids)},
            )
        )
    if backend == "mysql":
        placeholders = ", ".join(str(int(i)) for i in ids)
        return int(
            await admin.fetch_val(
                f"SELECT count(*) FROM information_schema.innodb_trx "
                f"WHERE trx_mysql_thread_id IN ({placeholders})"
            )
        )
    return sum(1 for conn in ids if conn.is_alive() and conn.in_transaction())


async def wait_until_no_open_transactions(admin: Database, db: Database, ids: list[Any]) -> int:
    """Poll briefly (servers end killed sessions asynchronously); return the final count."""
    count = await open_transactions(admin, db, ids)
    for _ in range(50):
        if count == 0:
            break
        await asyncio.sleep(0.05)
        count = await open_transactions(admin, db, ids)
    return count


async def kill(admin: Database, db: Database, ids: list[Any]) -> None:
    """Terminate the given server sessions from another connection."""
    backend = db.features.backend
    for server_id in ids:
        if backend == "postgresql":
            await admin.fetch_val("SELECT pg_terminate_backend(:pid)", {"pid": server_id})
        elif backend == "mysql":
            with contextlib.suppress(DatabaseError):  # already gone
                await admin.execute(f"KILL {int(server_id)}")
