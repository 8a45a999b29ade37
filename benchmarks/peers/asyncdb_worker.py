"""Our side of ``make bench-peers``: the ``orm`` package on ``asyncdb`` (the project's venv).

Models mapped onto the ``peer_*`` tables that ``benchmarks/bench_peers.py`` created; the
connection goes back to the pool after every statement (asyncdb's default).
"""

from __future__ import annotations

import asyncio
import sys
from importlib.metadata import version
from typing import Any

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
    serve,
    sink_rows,
)

import orm
from asyncdb import Database

db = Database(dsn(), min_size=POOL, max_size=POOL)
models = orm.ModelRegistry(database=db)


class Author(orm.Model):
    registry = models
    tablename = "peer_authors"
    name = orm.String(max_length=100)


class Tag(orm.Model):
    registry = models
    tablename = "peer_tags"
    name = orm.String(max_length=50)


class Book(orm.Model):
    registry = models
    tablename = "peer_books"
    title = orm.String(max_length=200)
    author = orm.ForeignKey(Author, related_name="books")
    pages = orm.Integer()
    price = orm.Float()
    published = orm.Date()
    tags = orm.ManyToMany(Tag, related_name="books")  # link table peer_books_tags


class Sink(orm.Model):
    registry = models
    tablename = "peer_sink"
    title = orm.String(max_length=200)
    pages = orm.Integer()
    price = orm.Float()


class Trash(orm.Model):
    registry = models
    tablename = "peer_trash"
    title = orm.String(max_length=200)
    pages = orm.Integer()


_wide: dict[str, Any] = {"registry": models, "tablename": "peer_wide"}
_wide.update({f"i{k:02}": orm.Integer() for k in range(1, 11)})
_wide.update({f"s{k:02}": orm.String(max_length=50) for k in range(1, 11)})
_wide.update({f"f{k:02}": orm.Float() for k in range(1, 10)})
Wide: type[orm.Model] = type("Wide", (orm.Model,), _wide)

ROWS = sink_rows()
CHUNK = sink_rows(BULK_C10)
OURS = "asyncdb orm"
BOOK_FIELDS = ("id", "title", "author_id", "pages", "price", "published")


@op("get", OURS)
async def get(i: int, slot: int) -> None:
    await Book.objects.get(id=key(i))


@op("filter20_models", OURS)
async def filter20(i: int, slot: int) -> None:
    await Book.objects.filter(id__gt=low20(i)).order_by("id")[:20]


@op("filter20_rows", f"{OURS} values()", OURS)
async def filter20_values(i: int, slot: int) -> None:
    await Book.objects.filter(id__gt=low20(i)).order_by("id")[:20].values()


@op("filter20_rows", f"{OURS} values_list()", OURS)
async def filter20_values_list(i: int, slot: int) -> None:
    await Book.objects.filter(id__gt=low20(i)).order_by("id")[:20].values_list(*BOOK_FIELDS)


@op("filter1000_models", OURS)
async def filter1000(i: int, slot: int) -> None:
    await Book.objects.filter(id__gt=low1000(i)).order_by("id")[:1000]


@op("filter1000_rows", f"{OURS} values()", OURS)
async def filter1000_values(i: int, slot: int) -> None:
    await Book.objects.filter(id__gt=low1000(i)).order_by("id")[:1000].values()


@op("filter1000_rows", f"{OURS} values_list()", OURS)
async def filter1000_values_list(i: int, slot: int) -> None:
    await Book.objects.filter(id__gt=low1000(i)).order_by("id")[:1000].values_list(*BOOK_FIELDS)


@op("wide1000_models", OURS)
async def wide1000(i: int, slot: int) -> None:
    await Wide.objects.filter(id__gt=low1000(i)).order_by("id")[:1000]


@op("select_related", OURS)
async def select_related(i: int, slot: int) -> None:
    books = await Book.objects.select_related("author").order_by("id")[:500]
    assert books[-1].author.name


@op("prefetch", OURS)
async def prefetch(i: int, slot: int) -> None:
    authors = await Author.objects.prefetch_related("books").order_by("id")[:100]
    assert len(authors[0].books) == 10


@op("prefetch_m2m", OURS)
async def prefetch_m2m(i: int, slot: int) -> None:
    books = await Book.objects.prefetch_related("tags").order_by("id")[:100]
    assert len(books[0].tags) == 3


@op("insert", OURS)
async def insert(i: int, slot: int) -> None:
    title, pages, price = ROWS[i % len(ROWS)]
    await Sink.objects.create(title=title, pages=pages, price=price)


async def bulk_create(rows: list[tuple[str, int, float]]) -> None:
    objs = [Sink(title=t, pages=p, price=f) for t, p, f in rows]
    await Sink.objects.bulk_create(objs)
    assert objs[-1].pk is not None


op("bulk_create", OURS)(lambda i, slot: bulk_create(ROWS))
op("bulk_create_c10", OURS)(lambda i, slot: bulk_create(CHUNK))


@op("update", OURS)
async def update(i: int, slot: int) -> None:
    low, high = range1000(i)
    await Book.objects.filter(id__gt=low, id__lte=high).update(pages=pages(i))


@op("delete", OURS)
async def delete(i: int, slot: int) -> None:
    await Trash.objects.filter(id__gt=i * 1000, id__lte=(i + 1) * 1000).delete()


@op("transaction", OURS)
async def transaction(i: int, slot: int) -> None:
    k = key(i)
    async with db.transaction():
        book = await Book.objects.get(id=k)
        await Sink.objects.create(title=book.title, pages=book.pages, price=book.price)
        await Book.objects.filter(id=k).update(pages=book.pages + 1)


@op("gateway", f"{OURS} (eager release)", OURS)
async def gateway(i: int, slot: int) -> None:
    await Book.objects.get(id=key(i))
    await asyncio.sleep(SLEEP)


@op("gateway", f"{OURS} holding (db.connection())", OURS)
async def gateway_holding(i: int, slot: int) -> None:
    async with db.connection():
        await Book.objects.get(id=key(i))
        await asyncio.sleep(SLEEP)


if __name__ == "__main__":
    versions = {"asyncdb": version("asyncdb"), "python": sys.version.split()[0]}
    serve(versions, db.connect, db.disconnect)
