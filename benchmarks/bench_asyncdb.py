"""asyncdb against the raw drivers and asyncpg's pool, side by side in one run (issue 2).

PostgreSQL workloads (targets in parentheses):

1. fetch one row by primary key: ``Database.fetch_one`` with a ``:name`` text query and with a
   Core ``select(t).where(t.c.id == x)`` built per call, versus ``conn.fetchrow`` on a held
   asyncpg connection (≤ 1.15x its time) and versus asyncpg's ``pool.fetchrow`` with default
   settings, which resets the connection on every release (≤ 0.7x its time);
2. fetch 1,000 rows: ``fetch_all`` versus ``conn.fetch``;
3. ``execute_many`` of 10,000 rows versus ``conn.executemany``;
4. the gateway workload (:mod:`benchmarks.bench_gateway`).

Then, for information, fetch-one on SQLite and MariaDB (:mod:`benchmarks.bench_backends`).
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import sqlalchemy as sa
from sqlalchemy.sql.lambdas import StatementLambdaElement

from asyncdb import Database

from . import bench_backends, bench_gateway
from .common import (
    DB_ONE,
    ITEM_COLUMNS,
    ITEMS_TABLE,
    SINK_TABLE,
    Settings,
    create_tables,
    drop_tables,
    items,
    key,
    postgres_url,
    raw_connect_args,
    row_dicts,
    row_tuples,
    sink,
)
from .harness import Contender, Report, Target, measure

__all__ = ["run"]

PG_ONE = f"SELECT {ITEM_COLUMNS} FROM {ITEMS_TABLE} WHERE id = $1"
PG_MANY = f"SELECT {ITEM_COLUMNS} FROM {ITEMS_TABLE} WHERE id > $1 ORDER BY id LIMIT 1000"
DB_MANY = f"SELECT {ITEM_COLUMNS} FROM {ITEMS_TABLE} WHERE id > :lo ORDER BY id LIMIT 1000"
PG_INSERT = f"INSERT INTO {SINK_TABLE} ({ITEM_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
DB_INSERT = (
    f"INSERT INTO {SINK_TABLE} ({ITEM_COLUMNS}) VALUES (:id, :name, :amount, :score, :created)"
)
_LOW_KEYS = (0, 2_000, 4_000, 6_000, 8_000)


def _by_id_lambda(k: int) -> StatementLambdaElement:
    return sa.lambda_stmt(lambda: sa.select(items).where(items.c.id == k))


async def fetch_one(report: Report, s: Settings, db: Database, conn: asyncpg.Connection) -> None:
    """Workload 1: one row by primary key, one task, back to back."""
    pool = await asyncpg.create_pool(postgres_dsn())
    prebuilt = sa.select(items).where(items.c.id == sa.bindparam("id"))

    async def raw_held(n: int) -> None:
        for i in range(n):
            await conn.fetchrow(PG_ONE, key(i))

    async def asyncpg_pool(n: int) -> None:
        for i in range(n):
            await pool.fetchrow(PG_ONE, key(i))

    async def db_text(n: int) -> None:
        for i in range(n):
            await db.fetch_one(DB_ONE, {"id": key(i)})

    async def db_core(n: int) -> None:
        for i in range(n):
            await db.fetch_one(sa.select(items).where(items.c.id == key(i)))

    async def db_core_prebuilt(n: int) -> None:
        for i in range(n):
            await db.fetch_one(prebuilt, {"id": key(i)})

    async def db_core_lambda(n: int) -> None:
        for i in range(n):
            await db.fetch_one(_by_id_lambda(key(i)))

    contenders = [
        Contender("asyncpg conn.fetchrow (held)", raw_held),
        Contender("asyncpg pool.fetchrow", asyncpg_pool),
        Contender("asyncdb fetch_one text", db_text),
        Contender("asyncdb fetch_one Core", db_core),
        Contender("asyncdb fetch_one Core prebuilt", db_core_prebuilt),
        Contender("asyncdb fetch_one Core lambda_stmt", db_core_lambda),
    ]
    try:
        results = await measure(contenders, ops=s.gets, rounds=s.rounds)
    finally:
        await pool.close()
    held, apool = "asyncpg conn.fetchrow (held)", "asyncpg pool.fetchrow"
    targets = [
        Target("PG fetch-one text vs held conn", "asyncdb fetch_one text", held, 1.15),
        Target("PG fetch-one Core vs held conn", "asyncdb fetch_one Core", held, 1.15),
        Target("PG fetch-one text vs pool.fetchrow", "asyncdb fetch_one text", apool, 0.7),
        Target("PG fetch-one Core vs pool.fetchrow", "asyncdb fetch_one Core", apool, 0.7),
    ]
    report.table(
        "PostgreSQL: fetch one row by primary key",
        f"{s.gets:,} gets per round, one task. `Database` with default pool settings (the "
        "connection goes back to the pool after every statement); asyncpg's pool with default "
        "settings (its release resets the session: one more round trip). *Core* builds "
        "`select(t).where(t.c.id == x)` on every call; for information, *Core prebuilt* reuses "
        "one statement with `bindparam('id')` (no SQLAlchemy work per call but binding) and "
        "*Core lambda_stmt* builds it as `lambda_stmt(lambda: select(t).where(t.c.id == x))` "
        "(SQLAlchemy caches the construction by the lambda's code).",
        results,
        baseline=held,
        unit="get",
        targets=targets,
    )


async def fetch_many(report: Report, s: Settings, db: Database, conn: asyncpg.Connection) -> None:
    """Workload 2: 1,000 rows per call (rows wrapped in ``Row`` vs asyncpg ``Record``)."""

    async def raw(n: int) -> None:
        for i in range(n):
            await conn.fetch(PG_MANY, _LOW_KEYS[i % 5])

    async def db_text(n: int) -> None:
        for i in range(n):
            await db.fetch_all(DB_MANY, {"lo": _LOW_KEYS[i % 5]})

    async def db_core(n: int) -> None:
        for i in range(n):
            stmt = sa.select(items).where(items.c.id > _LOW_KEYS[i % 5])
            await db.fetch_all(stmt.order_by(items.c.id).limit(1000))

    raw_name = "asyncpg conn.fetch (held)"
    results = await measure(
        [
            Contender(raw_name, raw),
            Contender("asyncdb fetch_all text", db_text),
            Contender("asyncdb fetch_all Core", db_core),
        ],
        ops=s.fetch_all_calls,
        rounds=s.rounds,
    )
    report.table(
        "PostgreSQL: fetch 1,000 rows",
        f"{s.fetch_all_calls} calls of 1,000 rows (5 columns) per round, one task.",
        results,
        baseline=raw_name,
        unit="call",
        items_per_op=1000,
    )


async def execute_many(report: Report, s: Settings, db: Database, conn: asyncpg.Connection) -> None:
    """Workload 3: one batched INSERT of 10,000 rows per call."""
    tuples = row_tuples()
    dicts = row_dicts()
    core_insert = sa.insert(sink)

    async def raw(n: int) -> None:
        for _ in range(n):
            await conn.executemany(PG_INSERT, tuples)

    async def db_text(n: int) -> None:
        for _ in range(n):
            await db.execute_many(DB_INSERT, dicts)

    async def db_core(n: int) -> None:
        for _ in range(n):
            await db.execute_many(core_insert, dicts)

    async def truncate() -> None:
        await conn.execute(f"TRUNCATE {SINK_TABLE}")

    raw_name = "asyncpg conn.executemany (held)"
    results = await measure(
        [
            Contender(raw_name, raw),
            Contender("asyncdb execute_many text", db_text),
            Contender("asyncdb execute_many Core insert", db_core),
        ],
        ops=s.execute_many_calls,
        rounds=s.execute_many_rounds,
        warmup=1,
        before_batch=truncate,
    )
    report.table(
        "PostgreSQL: execute_many of 10,000 rows",
        f"{s.execute_many_calls} call(s) of 10,000 rows per round into `bench_sink_<pid>` (no "
        "index, emptied before every batch, untimed). asyncdb takes a list of dicts (its API); raw "
        "asyncpg takes the tuples it needs.",
        results,
        baseline=raw_name,
        unit="call",
        items_per_op=10_000,
    )


def postgres_dsn() -> str:
    """The bench URL as an asyncpg DSN (asyncpg does not know ``+asyncpg``)."""
    args = raw_connect_args(postgres_url())
    auth = args.get("user", "") + (f":{args['password']}" if "password" in args else "")
    return (
        f"postgresql://{auth}{'@' if auth else ''}{args.get('host', '127.0.0.1')}:"
        f"{args.get('port', 5432)}/{args.get('database', '')}"
    )


async def postgres(report: Report, s: Settings, only: Sequence[str]) -> None:
    """All PostgreSQL workloads, on one set of bench tables."""
    names = ("fetch_one", "fetch_all", "execute_many", "gateway")
    if not any(_selected(name, only) for name in names):
        return
    db = Database(postgres_url())
    try:
        await db.connect()
    except Exception as exc:  # no server: say so and go on with the other backends
        report.add(f"### PostgreSQL\n\nskipped: cannot connect ({exc})\n")
        return
    try:
        await create_tables(db)
        conn = await asyncpg.connect(postgres_dsn())
        try:
            workloads = {
                "fetch_one": fetch_one,
                "fetch_all": fetch_many,
                "execute_many": execute_many,
            }
            for name, workload in workloads.items():
                if _selected(name, only):
                    await workload(report, s, db, conn)
        finally:
            await conn.close()
        if _selected("gateway", only):
            await bench_gateway.run(report, s, postgres_url(), postgres_dsn())
    finally:
        await drop_tables(db)
        await db.disconnect()


def _selected(name: str, only: Sequence[str]) -> bool:
    return not only or any(word in name for word in only)


async def run(report: Report, s: Settings, only: Sequence[str] = ()) -> None:
    """Run every selected asyncdb workload, adding its tables to ``report``.

    ``only``: run just the workloads whose name contains one of these words (``fetch_one``,
    ``fetch_all``, ``execute_many``, ``gateway``, ``sqlite``, ``mysql``); empty means all.
    """
    report.add("## asyncdb\n")
    await postgres(report, s, only)
    if _selected("sqlite", only):
        await bench_backends.sqlite(report, s)
    if _selected("mysql", only):
        await bench_backends.mysql(report, s)
