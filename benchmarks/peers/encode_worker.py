"""encode/databases and encode/orm (``.venv-peers/encode``): databases 0.6 with SQLAlchemy 1.4
Core queries, and orm 0.3 (typesystem) on it, pool of ``POOL``.

databases' default per-request pattern: each query acquires the task's connection and releases
it when done. encode/orm has no prefetch_related, many-to-many, values() or bulk_create (the
bulk insert is databases' ``execute_many``, which returns no keys), and a foreign key's column
is the field's own name (so the field is called ``author_id``).
"""

from __future__ import annotations

import asyncio
import sys
from importlib.metadata import version
from typing import Any

import databases
import sqlalchemy as sa
from _protocol import (
    BULK_C10,
    POOL,
    SLEEP,
    backend,
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

import orm  # encode/orm 0.3 (this venv's), not the project's orm

DATABASES = "databases"
ENCODE_ORM = "encode/orm"

# databases' SQLite backend passes its options to sqlite3.connect (and has no pool).
POOL_OPTIONS = {} if backend() == "sqlite" else {"min_size": POOL, "max_size": POOL}
database = databases.Database(dsn(), **POOL_OPTIONS)
models = orm.ModelRegistry(database=database)


class Author(orm.Model):
    tablename = "peer_authors"
    registry = models
    fields = {"id": orm.Integer(primary_key=True), "name": orm.String(max_length=100)}


class Book(orm.Model):
    tablename = "peer_books"
    registry = models
    fields = {
        "id": orm.Integer(primary_key=True),
        "title": orm.String(max_length=200),
        "author_id": orm.ForeignKey(Author),
        "pages": orm.Integer(),
        "price": orm.Float(),
        "published": orm.Date(),
    }


class Sink(orm.Model):
    tablename = "peer_sink"
    registry = models
    fields = {
        "id": orm.Integer(primary_key=True),
        "title": orm.String(max_length=200),
        "pages": orm.Integer(),
        "price": orm.Float(),
    }


class Trash(orm.Model):
    tablename = "peer_trash"
    registry = models
    fields = {
        "id": orm.Integer(primary_key=True),
        "title": orm.String(max_length=200),
        "pages": orm.Integer(),
    }


_wide: dict[str, Any] = {"id": orm.Integer(primary_key=True)}
_wide.update({f"i{k:02}": orm.Integer() for k in range(1, 11)})
_wide.update({f"s{k:02}": orm.String(max_length=50) for k in range(1, 11)})
_wide.update({f"f{k:02}": orm.Float() for k in range(1, 10)})
Wide: Any = type(
    "Wide", (orm.Model,), {"tablename": "peer_wide", "registry": models, "fields": _wide}
)

books = Book.table
sink = Sink.table
trash = Trash.table
ROWS = sink_rows()
CHUNK = sink_rows(BULK_C10)


# -- encode/orm ---------------------------------------------------------------------------------


@op("get", ENCODE_ORM)
async def orm_get(i: int, slot: int) -> None:
    await Book.objects.get(id=key(i))


@op("filter20_models", ENCODE_ORM)
async def orm_filter20(i: int, slot: int) -> None:
    await Book.objects.filter(id__gt=low20(i)).order_by("id").limit(20).all()


@op("filter1000_models", ENCODE_ORM)
async def orm_filter1000(i: int, slot: int) -> None:
    await Book.objects.filter(id__gt=low1000(i)).order_by("id").limit(1000).all()


@op("wide1000_models", ENCODE_ORM)
async def orm_wide1000(i: int, slot: int) -> None:
    await Wide.objects.filter(id__gt=low1000(i)).order_by("id").limit(1000).all()


@op("select_related", ENCODE_ORM)
async def orm_select_related(i: int, slot: int) -> None:
    qs = Book.objects.select_related("author_id").order_by("id").limit(500)
    result = await qs.all()
    assert result[-1].author_id.name


@op("insert", ENCODE_ORM)
async def orm_insert(i: int, slot: int) -> None:
    title, pages, price = ROWS[i % len(ROWS)]
    await Sink.objects.create(title=title, pages=pages, price=price)


@op("update", ENCODE_ORM)
async def orm_update(i: int, slot: int) -> None:
    low, high = range1000(i)
    await Book.objects.filter(id__gt=low, id__lte=high).update(pages=pages(i))


@op("delete", ENCODE_ORM)
async def orm_delete(i: int, slot: int) -> None:
    await Trash.objects.filter(id__gt=i * 1000, id__lte=(i + 1) * 1000).delete()


@op("transaction", ENCODE_ORM)
async def orm_transaction(i: int, slot: int) -> None:
    k = key(i)
    async with database.transaction():
        book = await Book.objects.get(id=k)
        await Sink.objects.create(title=book.title, pages=book.pages, price=book.price)
        await Book.objects.filter(id=k).update(pages=book.pages + 1)


@op("gateway", ENCODE_ORM)
async def orm_gateway(i: int, slot: int) -> None:
    await Book.objects.get(id=key(i))
    await asyncio.sleep(SLEEP)


# -- databases (Core queries) ---------------------------------------------------------------


@op("get", DATABASES)
async def db_get(i: int, slot: int) -> None:
    await database.fetch_one(books.select().where(books.c.id == key(i)))


@op("filter20_rows", DATABASES)
async def db_filter20(i: int, slot: int) -> None:
    await database.fetch_all(
        books.select().where(books.c.id > low20(i)).order_by(books.c.id).limit(20)
    )


@op("filter1000_rows", DATABASES)
async def db_filter1000(i: int, slot: int) -> None:
    await database.fetch_all(
        books.select().where(books.c.id > low1000(i)).order_by(books.c.id).limit(1000)
    )


@op("insert", DATABASES)
async def db_insert(i: int, slot: int) -> None:
    title, pages, price = ROWS[i % len(ROWS)]
    await database.execute(sink.insert().values(title=title, pages=pages, price=price))


async def db_bulk(rows: list[tuple[str, int, float]]) -> None:
    await database.execute_many(
        sink.insert(), [{"title": t, "pages": p, "price": f} for t, p, f in rows]
    )


op("bulk_create", f"{DATABASES} execute_many (no keys)", DATABASES)(lambda i, s: db_bulk(ROWS))
op("bulk_create_c10", f"{DATABASES} execute_many (no keys)", DATABASES)(lambda i, s: db_bulk(CHUNK))


@op("update", DATABASES)
async def db_update(i: int, slot: int) -> None:
    low, high = range1000(i)
    where = (books.c.id > low) & (books.c.id <= high)
    await database.execute(books.update().where(where).values(pages=pages(i)))


@op("delete", DATABASES)
async def db_delete(i: int, slot: int) -> None:
    where = (trash.c.id > i * 1000) & (trash.c.id <= (i + 1) * 1000)
    await database.execute(trash.delete().where(where))


@op("transaction", DATABASES)
async def db_transaction(i: int, slot: int) -> None:
    k = key(i)
    async with database.transaction():
        book = await database.fetch_one(books.select().where(books.c.id == k))
        assert book is not None
        await database.execute(
            sink.insert().values(title=book["title"], pages=book["pages"], price=book["price"])
        )
        await database.execute(
            books.update().where(books.c.id == k).values(pages=book["pages"] + 1)
        )


@op("gateway", DATABASES)
async def db_gateway(i: int, slot: int) -> None:
    await database.fetch_one(books.select().where(books.c.id == key(i)))
    await asyncio.sleep(SLEEP)


if __name__ == "__main__":
    versions = {
        "databases": version("databases"),
        "orm (encode)": version("orm"),
        "SQLAlchemy (databases)": sa.__version__,
        "python": sys.version.split()[0],
    }
    serve(versions, database.connect, database.disconnect)
