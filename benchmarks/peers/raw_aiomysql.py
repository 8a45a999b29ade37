"""Raw aiomysql (MariaDB): autocommit, one held connection and cursor per task, the SQL of
:mod:`_raw_sql` with ``%s`` parameters (aiomysql interpolates them client-side); the gateway
uses aiomysql's own pool (a connection and a cursor per request)."""

from __future__ import annotations

import asyncio
import sys
from importlib.metadata import version
from typing import Any
from urllib.parse import urlsplit

import aiomysql
from _protocol import (
    BULK_C10,
    POOL,
    SLEEP,
    dsn,
    key,
    low20,
    low1000,
    op,
    pages,
    range1000,
    sink_rows,
)
from _raw_sql import (
    AUTHORS,
    BOOKS100,
    BOOKS_OF,
    DELETE,
    FILTER20,
    FILTER1000,
    GET,
    INSERT,
    JOIN,
    TAGS_OF,
    UPDATE,
    UPDATE_ONE,
    WIDE1000,
    group,
    in_list,
    multi_row_insert,
    positional,
)

RAW = "aiomysql"
COLUMN = "asyncpg"  # the raw-driver column of the summary
ROWS = sink_rows()
CHUNK = sink_rows(BULK_C10)
M = "%s"
GET_, FILTER20_, FILTER1000_ = (positional(s, M) for s in (GET, FILTER20, FILTER1000))
WIDE1000_, INSERT_ = positional(WIDE1000, M), positional(INSERT, M)
UPDATE_, UPDATE_ONE_, DELETE_ = (positional(s, M) for s in (UPDATE, UPDATE_ONE, DELETE))
BOOKS_OF_, TAGS_OF_ = in_list(BOOKS_OF, M, 100), in_list(TAGS_OF, M, 100)
INSERT_MANY = {len(rows): multi_row_insert(M, len(rows)) for rows in (ROWS, CHUNK)}
conns: list[Any] = []
cursors: list[Any] = []
pools: list[Any] = []


@op("get", RAW, COLUMN)
async def get(i: int, slot: int) -> None:
    await cursors[slot].execute(GET_, (key(i),))
    await cursors[slot].fetchone()


@op("filter20_models", RAW, COLUMN)
@op("filter20_rows", RAW, COLUMN)
async def filter20(i: int, slot: int) -> None:
    await cursors[slot].execute(FILTER20_, (low20(i),))
    await cursors[slot].fetchall()


@op("filter1000_models", RAW, COLUMN)
@op("filter1000_rows", RAW, COLUMN)
async def filter1000(i: int, slot: int) -> None:
    await cursors[slot].execute(FILTER1000_, (low1000(i),))
    await cursors[slot].fetchall()


@op("wide1000_models", RAW, COLUMN)
async def wide1000(i: int, slot: int) -> None:
    await cursors[slot].execute(WIDE1000_, (low1000(i),))
    await cursors[slot].fetchall()


@op("select_related", RAW, COLUMN)
async def select_related(i: int, slot: int) -> None:
    await cursors[slot].execute(JOIN)
    await cursors[slot].fetchall()


@op("prefetch", RAW, COLUMN)
async def prefetch(i: int, slot: int) -> None:
    cursor = cursors[slot]
    await cursor.execute(AUTHORS)
    keys = [a[0] for a in await cursor.fetchall()]
    await cursor.execute(BOOKS_OF_, keys)
    books = group(await cursor.fetchall(), keys, 2)
    assert len(books[keys[0]]) == 10


@op("prefetch_m2m", RAW, COLUMN)
async def prefetch_m2m(i: int, slot: int) -> None:
    cursor = cursors[slot]
    await cursor.execute(BOOKS100)
    keys = [b[0] for b in await cursor.fetchall()]
    await cursor.execute(TAGS_OF_, keys)
    tags = group(await cursor.fetchall(), keys, 2)
    assert len(tags[keys[0]]) == 3


@op("insert", RAW, COLUMN)
async def insert(i: int, slot: int) -> None:
    await cursors[slot].execute(INSERT_, ROWS[i % len(ROWS)])
    assert cursors[slot].lastrowid


async def bulk_executemany(slot: int, rows: list[tuple[str, int, float]]) -> None:
    # aiomysql rewrites an INSERT ... VALUES executemany into multi-row INSERTs.
    await cursors[slot].executemany(INSERT_, rows)


async def bulk_returning(slot: int, rows: list[tuple[str, int, float]]) -> None:
    await cursors[slot].execute(INSERT_MANY[len(rows)], [v for row in rows for v in row])
    assert len(await cursors[slot].fetchall()) == len(rows)


for _workload, _rows in (("bulk_create", ROWS), ("bulk_create_c10", CHUNK)):
    op(_workload, f"{RAW} executemany (no keys)", COLUMN)(
        lambda i, slot, rows=_rows: bulk_executemany(slot, rows)
    )
    op(_workload, f"{RAW} INSERT ... VALUES ... RETURNING id", COLUMN)(
        lambda i, slot, rows=_rows: bulk_returning(slot, rows)
    )


@op("update", RAW, COLUMN)
async def update(i: int, slot: int) -> None:
    await cursors[slot].execute(UPDATE_, (pages(i), *range1000(i)))


@op("delete", RAW, COLUMN)
async def delete(i: int, slot: int) -> None:
    await cursors[slot].execute(DELETE_, (i * 1000, (i + 1) * 1000))


@op("transaction", RAW, COLUMN)
async def transaction(i: int, slot: int) -> None:
    conn, cursor, k = conns[slot], cursors[slot], key(i)
    await conn.begin()
    try:
        await cursor.execute(GET_, (k,))
        _, title, _, pages_, price, _ = await cursor.fetchone()
        await cursor.execute(INSERT_, (title, pages_, price))
        await cursor.execute(UPDATE_ONE_, (pages_ + 1, k))
    except BaseException:
        await conn.rollback()
        raise
    await conn.commit()


@op("gateway", f"{RAW} pool.acquire() per request", COLUMN)
async def gateway(i: int, slot: int) -> None:
    async with pools[0].acquire() as conn, conn.cursor() as cursor:
        await cursor.execute(GET_, (key(i),))
        await cursor.fetchone()
    await asyncio.sleep(SLEEP)


def connect_args() -> dict[str, Any]:
    url = urlsplit(dsn())
    args = {"host": url.hostname, "port": url.port or 3306, "user": url.username or "root"}
    args.update(password=url.password or "", db=url.path.lstrip("/"))
    return {**args, "autocommit": True, "charset": "utf8mb4"}


async def setup() -> None:
    for _ in range(POOL):
        conn = await aiomysql.connect(**connect_args())
        conns.append(conn)
        cursors.append(await conn.cursor())
    pools.append(await aiomysql.create_pool(minsize=POOL, maxsize=POOL, **connect_args()))


async def teardown() -> None:
    for cursor in cursors:
        await cursor.close()
    for conn in conns:
        conn.close()
    for pool in pools:
        pool.close()
        await pool.wait_closed()


def versions() -> dict[str, str]:
    return {"aiomysql": version("aiomysql"), "python": sys.version.split()[0]}
