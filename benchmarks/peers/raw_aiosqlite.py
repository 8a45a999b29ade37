"""Raw aiosqlite (SQLite): one connection (and so one thread) per task, opened with the
settings asyncdb uses (autocommit, ``busy_timeout`` 5 s, ``foreign_keys``, ``synchronous =
NORMAL``; the file is in WAL mode), one thread hop per statement (``execute_fetchall``);
transactions start with ``BEGIN IMMEDIATE`` so concurrent ones wait instead of deadlocking. The
gateway takes a connection from a queue of them per request (aiosqlite has no pool)."""

from __future__ import annotations

import asyncio
import sys
from importlib.metadata import version
from typing import Any

import aiosqlite
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
    INSERT_RETURNING,
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

RAW = "aiosqlite"
COLUMN = "asyncpg"  # the raw-driver column of the summary
ROWS = sink_rows()
CHUNK = sink_rows(BULK_C10)
M = "?"
GET_, FILTER20_, FILTER1000_ = (positional(s, M) for s in (GET, FILTER20, FILTER1000))
WIDE1000_, INSERT_ = positional(WIDE1000, M), positional(INSERT, M)
INSERT_RETURNING_ = positional(INSERT_RETURNING, M)
UPDATE_, UPDATE_ONE_, DELETE_ = (positional(s, M) for s in (UPDATE, UPDATE_ONE, DELETE))
BOOKS_OF_, TAGS_OF_ = in_list(BOOKS_OF, M, 100), in_list(TAGS_OF, M, 100)
#: Rows per multi-row INSERT: 3 parameters a row, under SQLite's 32,766 parameters a statement.
STATEMENT_ROWS = 5_000
INSERT_MANY = multi_row_insert(M, STATEMENT_ROWS)
conns: list[aiosqlite.Connection] = []
idle: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()


@op("get", RAW, COLUMN)
async def get(i: int, slot: int) -> None:
    await conns[slot].execute_fetchall(GET_, (key(i),))


@op("filter20_models", RAW, COLUMN)
@op("filter20_rows", RAW, COLUMN)
async def filter20(i: int, slot: int) -> None:
    await conns[slot].execute_fetchall(FILTER20_, (low20(i),))


@op("filter1000_models", RAW, COLUMN)
@op("filter1000_rows", RAW, COLUMN)
async def filter1000(i: int, slot: int) -> None:
    await conns[slot].execute_fetchall(FILTER1000_, (low1000(i),))


@op("wide1000_models", RAW, COLUMN)
async def wide1000(i: int, slot: int) -> None:
    await conns[slot].execute_fetchall(WIDE1000_, (low1000(i),))


@op("select_related", RAW, COLUMN)
async def select_related(i: int, slot: int) -> None:
    await conns[slot].execute_fetchall(JOIN)


@op("prefetch", RAW, COLUMN)
async def prefetch(i: int, slot: int) -> None:
    keys = [a[0] for a in await conns[slot].execute_fetchall(AUTHORS)]
    books = group(list(await conns[slot].execute_fetchall(BOOKS_OF_, keys)), keys, 2)
    assert len(books[keys[0]]) == 10


@op("prefetch_m2m", RAW, COLUMN)
async def prefetch_m2m(i: int, slot: int) -> None:
    keys = [b[0] for b in await conns[slot].execute_fetchall(BOOKS100)]
    tags = group(list(await conns[slot].execute_fetchall(TAGS_OF_, keys)), keys, 2)
    assert len(tags[keys[0]]) == 3


@op("insert", RAW, COLUMN)
async def insert(i: int, slot: int) -> None:
    await conns[slot].execute_fetchall(INSERT_RETURNING_, ROWS[i % len(ROWS)])


async def bulk_executemany(slot: int, rows: list[tuple[str, int, float]]) -> None:
    conn = conns[slot]
    await conn.execute("BEGIN IMMEDIATE")
    try:
        await conn.executemany(INSERT_, rows)
    except BaseException:
        await conn.rollback()
        raise
    await conn.commit()


async def bulk_returning(slot: int, rows: list[tuple[str, int, float]]) -> None:
    conn, keys = conns[slot], 0
    if len(rows) <= STATEMENT_ROWS:  # one statement is atomic by itself: one hop
        sql = multi_row_insert(M, len(rows))
        keys = len(await conn.execute_fetchall(sql, [v for row in rows for v in row]))
        assert keys == len(rows)
        return
    await conn.execute("BEGIN IMMEDIATE")
    try:
        for start in range(0, len(rows), STATEMENT_ROWS):
            part = rows[start : start + STATEMENT_ROWS]
            sql = INSERT_MANY if len(part) == STATEMENT_ROWS else multi_row_insert(M, len(part))
            keys += len(await conn.execute_fetchall(sql, [v for row in part for v in row]))
    except BaseException:
        await conn.rollback()
        raise
    await conn.commit()
    assert keys == len(rows)


for _workload, _rows in (("bulk_create", ROWS), ("bulk_create_c10", CHUNK)):
    op(_workload, f"{RAW} executemany (no keys)", COLUMN)(
        lambda i, slot, rows=_rows: bulk_executemany(slot, rows)
    )
    op(_workload, f"{RAW} INSERT ... VALUES ... RETURNING id", COLUMN)(
        lambda i, slot, rows=_rows: bulk_returning(slot, rows)
    )


@op("update", RAW, COLUMN)
async def update(i: int, slot: int) -> None:
    await conns[slot].execute(UPDATE_, (pages(i), *range1000(i)))


@op("delete", RAW, COLUMN)
async def delete(i: int, slot: int) -> None:
    await conns[slot].execute(DELETE_, (i * 1000, (i + 1) * 1000))


@op("transaction", RAW, COLUMN)
async def transaction(i: int, slot: int) -> None:
    conn, k = conns[slot], key(i)
    await conn.execute("BEGIN IMMEDIATE")
    try:
        ((_, title, _, pages_, price, _),) = await conn.execute_fetchall(GET_, (k,))
        await conn.execute_fetchall(INSERT_RETURNING_, (title, pages_, price))
        await conn.execute(UPDATE_ONE_, (pages_ + 1, k))
    except BaseException:
        await conn.rollback()
        raise
    await conn.commit()


@op("gateway", f"{RAW} connection per request (a queue of {POOL})", COLUMN)
async def gateway(i: int, slot: int) -> None:
    conn = await idle.get()
    try:
        await conn.execute_fetchall(GET_, (key(i),))
    finally:
        idle.put_nowait(conn)
    await asyncio.sleep(SLEEP)


async def setup() -> None:
    for _ in range(POOL):
        conn = await aiosqlite.connect(dsn().removeprefix("sqlite:///"), isolation_level=None)
        for pragma in ("busy_timeout = 5000", "foreign_keys = ON", "synchronous = NORMAL"):
            await conn.execute(f"PRAGMA {pragma}")
        conns.append(conn)
        idle.put_nowait(conn)


async def teardown() -> None:
    for conn in conns:
        await conn.close()


def versions() -> dict[str, Any]:
    return {"aiosqlite": version("aiosqlite"), "python": sys.version.split()[0]}
