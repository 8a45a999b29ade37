"""Raw asyncpg: one held connection per task; the gateway uses asyncpg's own pool
(``pool.fetchrow``, a connection per request) since a held connection per request would be the
holding pattern."""

from __future__ import annotations

import asyncio
import sys

import asyncpg
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
    any_array,
    group,
)

RAW = "asyncpg"
ROWS = sink_rows()
CHUNK = sink_rows(BULK_C10)
BOOKS_OF_ANY = any_array(BOOKS_OF)
TAGS_OF_ANY = any_array(TAGS_OF)
UNNEST = (
    "INSERT INTO peer_sink (title, pages, price) "
    "SELECT * FROM unnest($1::varchar[], $2::int[], $3::float8[]) RETURNING id"
)
conns: list[asyncpg.Connection] = []
pools: list[asyncpg.Pool] = []


@op("get", RAW)
async def get(i: int, slot: int) -> None:
    await conns[slot].fetchrow(GET, key(i))


@op("filter20_models", RAW)
@op("filter20_rows", RAW)
async def filter20(i: int, slot: int) -> None:
    await conns[slot].fetch(FILTER20, low20(i))


@op("filter1000_models", RAW)
@op("filter1000_rows", RAW)
async def filter1000(i: int, slot: int) -> None:
    await conns[slot].fetch(FILTER1000, low1000(i))


@op("wide1000_models", RAW)
async def wide1000(i: int, slot: int) -> None:
    await conns[slot].fetch(WIDE1000, low1000(i))


@op("select_related", RAW)
async def select_related(i: int, slot: int) -> None:
    await conns[slot].fetch(JOIN)


@op("prefetch", RAW)
async def prefetch(i: int, slot: int) -> None:
    authors = await conns[slot].fetch(AUTHORS)
    keys = [a[0] for a in authors]
    books = group(await conns[slot].fetch(BOOKS_OF_ANY, keys), keys, 2)
    assert len(books[keys[0]]) == 10


@op("prefetch_m2m", RAW)
async def prefetch_m2m(i: int, slot: int) -> None:
    books = await conns[slot].fetch(BOOKS100)
    keys = [b[0] for b in books]
    tags = group(await conns[slot].fetch(TAGS_OF_ANY, keys), keys, 2)
    assert len(tags[keys[0]]) == 3


@op("insert", RAW)
async def insert(i: int, slot: int) -> None:
    await conns[slot].fetchval(INSERT_RETURNING, *ROWS[i % len(ROWS)])


async def bulk_executemany(slot: int, rows: list[tuple[str, int, float]]) -> None:
    await conns[slot].executemany(INSERT, rows)


async def bulk_unnest(slot: int, rows: list[tuple[str, int, float]]) -> None:
    titles, pages_, prices = (list(column) for column in zip(*rows, strict=True))
    keys = await conns[slot].fetch(UNNEST, titles, pages_, prices)
    assert len(keys) == len(rows)


for _workload, _rows in (("bulk_create", ROWS), ("bulk_create_c10", CHUNK)):
    op(_workload, f"{RAW} executemany (no keys)", RAW)(
        lambda i, slot, rows=_rows: bulk_executemany(slot, rows)
    )
    op(_workload, f"{RAW} INSERT ... unnest RETURNING id", RAW)(
        lambda i, slot, rows=_rows: bulk_unnest(slot, rows)
    )


@op("update", RAW)
async def update(i: int, slot: int) -> None:
    await conns[slot].execute(UPDATE, pages(i), *range1000(i))


@op("delete", RAW)
async def delete(i: int, slot: int) -> None:
    await conns[slot].execute(DELETE, i * 1000, (i + 1) * 1000)


@op("transaction", RAW)
async def transaction(i: int, slot: int) -> None:
    conn, k = conns[slot], key(i)
    async with conn.transaction():
        book = await conn.fetchrow(GET, k)
        await conn.fetchval(INSERT_RETURNING, book["title"], book["pages"], book["price"])
        await conn.execute(UPDATE_ONE, book["pages"] + 1, k)


@op("gateway", f"{RAW} pool.fetchrow", RAW)
async def gateway(i: int, slot: int) -> None:
    await pools[0].fetchrow(GET, key(i))
    await asyncio.sleep(SLEEP)


async def setup() -> None:
    conns.extend([await asyncpg.connect(dsn()) for _ in range(POOL)])
    pools.append(await asyncpg.create_pool(dsn(), min_size=POOL, max_size=POOL))


async def teardown() -> None:
    for conn in conns:
        await conn.close()
    for pool in pools:
        await pool.close()


def versions() -> dict[str, str]:
    return {"asyncpg": asyncpg.__version__, "python": sys.version.split()[0]}
