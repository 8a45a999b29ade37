"""The floor: hand-written SQL on raw asyncpg (the project's venv).

One held connection per task (``POOL`` of them, never released); the gateway uses asyncpg's
own pool (``pool.fetchrow``, default settings) since a held connection per request would be the
holding pattern.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from _protocol import POOL, SLEEP, backend, dsn, key, low20, low1000, op, serve, sink_rows

conns: list[Any] = []
pools: list[asyncpg.Pool] = []
ROWS = sink_rows()
RAW = "asyncpg"
BACKEND = backend()

BOOK = "SELECT id, title, author_id, pages, price, published FROM peer_books"
GET = f"{BOOK} WHERE id = $1"
FILTER20 = f"{BOOK} WHERE id > $1 ORDER BY id LIMIT 20"
FILTER1000 = f"{BOOK} WHERE id > $1 ORDER BY id LIMIT 1000"
WIDE_COLUMNS = ", ".join(
    ["id"]
    + [f"i{k:02}" for k in range(1, 11)]
    + [f"s{k:02}" for k in range(1, 11)]
    + [f"f{k:02}" for k in range(1, 10)]
)
WIDE1000 = f"SELECT {WIDE_COLUMNS} FROM peer_wide WHERE id > $1 ORDER BY id LIMIT 1000"
JOIN = (
    "SELECT b.id, b.title, b.author_id, b.pages, b.price, b.published, a.id, a.name "
    "FROM peer_books b JOIN peer_authors a ON a.id = b.author_id ORDER BY b.id LIMIT 500"
)
AUTHORS = "SELECT id, name FROM peer_authors ORDER BY id LIMIT 100"
BOOKS_OF = f"{BOOK} WHERE author_id = ANY($1)"
BOOKS100 = f"{BOOK} ORDER BY id LIMIT 100"
TAGS_OF = (
    "SELECT t.id, t.name, x.book_id FROM peer_tags t "
    "JOIN peer_books_tags x ON x.tag_id = t.id WHERE x.book_id = ANY($1)"
)
INSERT = "INSERT INTO peer_sink (title, pages, price) VALUES ($1, $2, $3) RETURNING id"
INSERT_MANY = "INSERT INTO peer_sink (title, pages, price) VALUES ($1, $2, $3)"
UNNEST = (
    "INSERT INTO peer_sink (title, pages, price) "
    "SELECT * FROM unnest($1::varchar[], $2::int[], $3::float8[]) RETURNING id"
)
UPDATE = "UPDATE peer_books SET pages = $1 WHERE id > $2 AND id <= $3"
UPDATE_ONE = "UPDATE peer_books SET pages = $1 WHERE id = $2"
DELETE = "DELETE FROM peer_trash WHERE id > $1 AND id <= $2"


async def get(i: int, slot: int) -> None:
    await conns[slot].fetchrow(GET, key(i))


async def filter20(i: int, slot: int) -> None:
    await conns[slot].fetch(FILTER20, low20(i))


# MariaDB (aiomysql, autocommit, a held cursor per task) and SQLite (aiosqlite: one thread hop
# per query with execute_fetchall, the floor): get and filter-20 only.
MYSQL_GET, MYSQL_FILTER20 = GET.replace("$1", "%s"), FILTER20.replace("$1", "%s")
SQLITE_GET, SQLITE_FILTER20 = GET.replace("$1", "?"), FILTER20.replace("$1", "?")
cursors: list[Any] = []


async def mysql_get(i: int, slot: int) -> None:
    await cursors[slot].execute(MYSQL_GET, (key(i),))
    await cursors[slot].fetchone()


async def mysql_filter20(i: int, slot: int) -> None:
    await cursors[slot].execute(MYSQL_FILTER20, (low20(i),))
    await cursors[slot].fetchall()


async def sqlite_get(i: int, slot: int) -> None:
    await conns[0].execute_fetchall(SQLITE_GET, (key(i),))


async def sqlite_filter20(i: int, slot: int) -> None:
    await conns[0].execute_fetchall(SQLITE_FILTER20, (low20(i),))


if BACKEND == "mysql":
    op("get", "aiomysql", RAW)(mysql_get)
    op("filter20_models", "aiomysql", RAW)(mysql_filter20)
elif BACKEND == "sqlite":
    op("get", "aiosqlite", RAW)(sqlite_get)
    op("filter20_models", "aiosqlite", RAW)(sqlite_filter20)
else:
    op("get", RAW)(get)
    op("filter20_models", RAW)(filter20)
    op("filter20_rows", RAW)(filter20)


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
    await conns[slot].fetch(BOOKS_OF, [a[0] for a in authors])


@op("prefetch_m2m", RAW)
async def prefetch_m2m(i: int, slot: int) -> None:
    books = await conns[slot].fetch(BOOKS100)
    await conns[slot].fetch(TAGS_OF, [b[0] for b in books])


@op("insert", RAW)
async def insert(i: int, slot: int) -> None:
    await conns[slot].fetchval(INSERT, *ROWS[i % len(ROWS)])


@op("bulk_create", f"{RAW} executemany (no keys)", RAW)
async def bulk_executemany(i: int, slot: int) -> None:
    await conns[slot].executemany(INSERT_MANY, ROWS)


@op("bulk_create", f"{RAW} INSERT ... unnest RETURNING id", RAW)
async def bulk_unnest(i: int, slot: int) -> None:
    titles, pages, prices = (list(column) for column in zip(*ROWS, strict=True))
    keys = await conns[slot].fetch(UNNEST, titles, pages, prices)
    assert len(keys) == len(ROWS)


@op("update", RAW)
async def update(i: int, slot: int) -> None:
    low = low1000(i)
    await conns[slot].execute(UPDATE, i % 500 + 1, low, low + 1000)


@op("delete", RAW)
async def delete(i: int, slot: int) -> None:
    await conns[slot].execute(DELETE, i * 1000, (i + 1) * 1000)


@op("transaction", RAW)
async def transaction(i: int, slot: int) -> None:
    conn, k = conns[slot], key(i)
    async with conn.transaction():
        book = await conn.fetchrow(GET, k)
        await conn.fetchval(INSERT, book["title"], book["pages"], book["price"])
        await conn.execute(UPDATE_ONE, book["pages"] + 1, k)


@op("gateway", f"{RAW} pool.fetchrow", RAW)
async def gateway(i: int, slot: int) -> None:
    await pools[0].fetchrow(GET, key(i))
    await asyncio.sleep(SLEEP)


async def setup() -> None:
    if BACKEND == "mysql":
        import aiomysql

        url = urlsplit(dsn())
        args = {"host": url.hostname, "port": url.port or 3306, "user": url.username or "root"}
        args.update(password=url.password or "", db=url.path.lstrip("/"))
        for _ in range(POOL):
            conn = await aiomysql.connect(**args, autocommit=True, charset="utf8mb4")
            conns.append(conn)
            cursors.append(await conn.cursor())
    elif BACKEND == "sqlite":
        import aiosqlite

        conns.append(await aiosqlite.connect(dsn().removeprefix("sqlite:///")))
    else:
        conns.extend([await asyncpg.connect(dsn()) for _ in range(POOL)])
        pools.append(await asyncpg.create_pool(dsn(), min_size=POOL, max_size=POOL))


async def teardown() -> None:
    for cursor in cursors:
        await cursor.close()
    for conn in conns:
        if BACKEND == "mysql":
            conn.close()
        else:
            await conn.close()
    for pool in pools:
        await pool.close()


def versions() -> dict[str, str]:
    from importlib.metadata import version

    found = {"asyncpg": asyncpg.__version__, "python": sys.version.split()[0]}
    found.update({name: version(name) for name in ("aiomysql", "aiosqlite")})
    return found


if __name__ == "__main__":
    serve(versions(), setup, teardown)
