"""What every asyncdb workload shares: settings, server URLs, the bench tables and their data.

Tables are named ``bench_*`` and dropped at the end of each workload group. The data is
deterministic: ``bench_items_<pid>`` holds ``ITEMS`` rows with ids 1..ITEMS. The process id in
the names keeps two runs at once (two developers, or the ORM suite beside this one) from
dropping each other's tables.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa

from asyncdb import Database
from asyncdb.url import DatabaseURL

__all__ = [
    "DB_ONE",
    "ITEMS",
    "ITEMS_TABLE",
    "ITEM_COLUMNS",
    "SINK_TABLE",
    "Settings",
    "create_tables",
    "drop_tables",
    "items",
    "key",
    "mysql_url",
    "postgres_url",
    "raw_connect_args",
    "row_dicts",
    "row_tuples",
    "sink",
]

ITEMS = 10_000
ITEM_COLUMNS = "id, name, amount, score, created"
ITEMS_TABLE = f"bench_items_{os.getpid()}"
SINK_TABLE = f"bench_sink_{os.getpid()}"
DB_ONE = f"SELECT {ITEM_COLUMNS} FROM {ITEMS_TABLE} WHERE id = :id"
_EPOCH = dt.datetime(2026, 1, 1)

metadata = sa.MetaData()
items = sa.Table(
    ITEMS_TABLE,
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(50), nullable=False),
    sa.Column("amount", sa.Integer, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("created", sa.DateTime, nullable=False),
)
#: Target of the execute_many workload: no key, so batches need no cleanup between calls.
sink = sa.Table(
    SINK_TABLE,
    metadata,
    sa.Column("id", sa.Integer, nullable=False),
    sa.Column("name", sa.String(50), nullable=False),
    sa.Column("amount", sa.Integer, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("created", sa.DateTime, nullable=False),
)


@dataclass(frozen=True)
class Settings:
    """Rounds and batch sizes.

    Many short rounds rather than a few long ones: on a shared 2-core machine another process
    can steal a core for a second or two, and a short interleaved round confines that to one
    paired ratio, which the median then discards. The defaults keep the asyncdb part near
    half a minute and ``make bench`` as a whole (with the ORM suite) under three.
    """

    rounds: int = 25
    gets: int = 500
    fetch_all_calls: int = 20
    execute_many_rounds: int = 15
    execute_many_calls: int = 1
    gateway_rounds: int = 7
    gateway_tasks: int = 500
    gateway_pool: int = 10
    gateway_sleep: float = 0.02

    def quick(self) -> Settings:
        """A smoke test of the suite: same workloads, far fewer operations."""
        return replace(
            self, rounds=5, gets=100, fetch_all_calls=5, execute_many_rounds=5, gateway_rounds=5
        )


def postgres_url() -> str:
    return os.environ.get("ASYNCDB_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def mysql_url() -> str:
    return os.environ.get("ASYNCDB_BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")


def raw_connect_args(url: str) -> dict[str, Any]:
    """Host, port, user, password and database of ``url``, for the raw driver."""
    parsed = DatabaseURL(url)
    args = {
        "host": parsed.host,
        "port": parsed.port,
        "user": parsed.user,
        "password": parsed.password,
        "database": parsed.database,
    }
    return {k: v for k, v in args.items() if v is not None}


def key(i: int) -> int:
    """The i-th primary key of a batch: walks all rows, not one hot row."""
    return (i * 7919) % ITEMS + 1


def row_tuples(count: int = ITEMS) -> list[tuple[int, str, int, float, dt.datetime]]:
    return [
        (i, f"item-{i}", (i * 37) % 1000, i / 7, _EPOCH + dt.timedelta(seconds=i))
        for i in range(1, count + 1)
    ]


def row_dicts(count: int = ITEMS) -> list[dict[str, Any]]:
    names = ("id", "name", "amount", "score", "created")
    return [dict(zip(names, row, strict=True)) for row in row_tuples(count)]


async def create_tables(db: Database) -> None:
    """(Re)create the items table with its rows and an empty sink table."""
    await drop_tables(db)
    for table in (items, sink):
        await db.execute(sa.schema.CreateTable(table))
    await db.execute_many(
        f"INSERT INTO {ITEMS_TABLE} ({ITEM_COLUMNS}) "
        "VALUES (:id, :name, :amount, :score, :created)",
        row_dicts(),
    )
    # Fresh statistics, so the planner picks the index whatever the run before left behind.
    analyze = {"postgresql": f"ANALYZE {ITEMS_TABLE}", "mysql": f"ANALYZE TABLE {ITEMS_TABLE}"}
    await db.execute(analyze.get(db.features.backend, "ANALYZE"))


async def drop_tables(db: Database) -> None:
    for table in (sink, items):
        await db.execute(sa.schema.DropTable(table, if_exists=True))
