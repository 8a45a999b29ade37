"""For information: fetch one row by primary key on SQLite and MariaDB/MySQL.

* SQLite: ``Database.fetch_one`` (one hop to the connection's thread per statement) versus a
  raw aiosqlite connection, both with ``execute_fetchall`` (one hop, the floor) and with the
  idiomatic ``async with conn.execute(...) as cur: await cur.fetchone()`` (three hops).
* MariaDB: ``Database.fetch_one`` versus raw aiomysql on a held connection and cursor
  (autocommit on, as asyncdb runs it).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import aiomysql
import aiosqlite

from asyncdb import Database

from .common import (
    DB_ONE,
    ITEM_COLUMNS,
    ITEMS_TABLE,
    Settings,
    create_tables,
    drop_tables,
    key,
    mysql_url,
    raw_connect_args,
)
from .harness import Contender, Measurement, Report, measure

__all__ = ["mysql", "sqlite"]

_QMARK_ONE = f"SELECT {ITEM_COLUMNS} FROM {ITEMS_TABLE} WHERE id = ?"
_FORMAT_ONE = f"SELECT {ITEM_COLUMNS} FROM {ITEMS_TABLE} WHERE id = %s"


async def sqlite(report: Report, s: Settings) -> None:
    """SQLite fetch-one, on a file database in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="bench_asyncdb_") as tmp:
        path = Path(tmp) / "bench.db"
        async with Database(f"sqlite:///{path}") as db:
            await create_tables(db)
            async with aiosqlite.connect(path) as conn:

                async def one_hop(n: int) -> None:
                    for i in range(n):
                        await conn.execute_fetchall(_QMARK_ONE, (key(i),))

                async def cursor(n: int) -> None:
                    for i in range(n):
                        async with conn.execute(_QMARK_ONE, (key(i),)) as cur:
                            await cur.fetchone()

                async def db_text(n: int) -> None:
                    for i in range(n):
                        await db.fetch_one(DB_ONE, {"id": key(i)})

                floor = "aiosqlite execute_fetchall (1 hop)"
                results = await measure(
                    [
                        Contender(floor, one_hop),
                        Contender("aiosqlite cursor + fetchone (3 hops)", cursor),
                        Contender("asyncdb fetch_one text", db_text),
                    ],
                    ops=s.gets,
                    rounds=s.rounds,
                )
            await drop_tables(db)
    _fetch_one_table(report, "SQLite", "a WAL file database", results, floor)


async def mysql(report: Report, s: Settings) -> None:
    """MariaDB/MySQL fetch-one; skipped when the server is unreachable."""
    url = mysql_url()
    db = Database(url)
    try:
        await db.connect()
    except Exception as exc:  # no server: say so and go on
        report.add(
            f"### MariaDB: fetch one row by primary key\n\nskipped: cannot connect ({exc})\n"
        )
        return
    args = raw_connect_args(url)
    args["db"] = args.pop("database", None)
    try:
        await create_tables(db)
        conn = await aiomysql.connect(**args, autocommit=True, charset="utf8mb4")
        try:
            cur = await conn.cursor()

            async def raw_held(n: int) -> None:
                for i in range(n):
                    await cur.execute(_FORMAT_ONE, (key(i),))
                    await cur.fetchone()

            async def db_text(n: int) -> None:
                for i in range(n):
                    await db.fetch_one(DB_ONE, {"id": key(i)})

            floor = "aiomysql cursor (held)"
            results = await measure(
                [Contender(floor, raw_held), Contender("asyncdb fetch_one text", db_text)],
                ops=s.gets,
                rounds=s.rounds,
            )
            await cur.close()
        finally:
            conn.close()
    finally:
        await drop_tables(db)
        await db.disconnect()
    _fetch_one_table(report, "MariaDB", "autocommit connections", results, floor)


def _fetch_one_table(
    report: Report, backend: str, setup: str, results: dict[str, Measurement], floor: str
) -> None:
    report.table(
        f"{backend}: fetch one row by primary key (information)",
        f"Gets per round as for PostgreSQL, one task, {setup}; no target.",
        results,
        baseline=floor,
        unit="get",
    )
