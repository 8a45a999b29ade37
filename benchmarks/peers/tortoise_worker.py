"""Tortoise ORM (``.venv-peers/tortoise``), its asyncpg backend, pool of ``POOL``.

Tortoise's default per-request pattern: every query takes a connection from its pool and gives
it back (``await Book.get(...)``); transactions with ``in_transaction()``.
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
    backend,
    driver_url,
    key,
    low20,
    low1000,
    op,
    pages,
    range1000,
    serve,
    sink_rows,
)
from tortoise import Tortoise, fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

TORTOISE = "Tortoise ORM"
BOOK_FIELDS = ("id", "title", "author_id", "pages", "price", "published")


class Author(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)

    class Meta:
        table = "peer_authors"


class Tag(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=50)

    class Meta:
        table = "peer_tags"


class Book(Model):
    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=200)
    author: Any = fields.ForeignKeyField("models.Author", related_name="books")
    pages = fields.IntField()
    price = fields.FloatField()
    published = fields.DateField()
    tags: Any = fields.ManyToManyField(
        "models.Tag",
        related_name="books",
        through="peer_books_tags",
        forward_key="tag_id",
        backward_key="book_id",
    )

    class Meta:
        table = "peer_books"


class Sink(Model):
    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=200)
    pages = fields.IntField()
    price = fields.FloatField()

    class Meta:
        table = "peer_sink"


class Trash(Model):
    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=200)
    pages = fields.IntField()

    class Meta:
        table = "peer_trash"


class Wide(Model):
    id = fields.IntField(primary_key=True)
    locals().update({f"i{k:02}": fields.IntField() for k in range(1, 11)})
    locals().update({f"s{k:02}": fields.CharField(max_length=50) for k in range(1, 11)})
    locals().update({f"f{k:02}": fields.FloatField() for k in range(1, 10)})

    class Meta:
        table = "peer_wide"


ROWS = sink_rows()
CHUNK = sink_rows(BULK_C10)


@op("get", TORTOISE)
async def get(i: int, slot: int) -> None:
    await Book.get(id=key(i))


@op("filter20_models", TORTOISE)
async def filter20(i: int, slot: int) -> None:
    await Book.filter(id__gt=low20(i)).order_by("id").limit(20)


@op("filter20_rows", f"{TORTOISE} values()", TORTOISE)
async def filter20_values(i: int, slot: int) -> None:
    await Book.filter(id__gt=low20(i)).order_by("id").limit(20).values()


@op("filter20_rows", f"{TORTOISE} values_list()", TORTOISE)
async def filter20_values_list(i: int, slot: int) -> None:
    await Book.filter(id__gt=low20(i)).order_by("id").limit(20).values_list(*BOOK_FIELDS)


@op("filter1000_models", TORTOISE)
async def filter1000(i: int, slot: int) -> None:
    await Book.filter(id__gt=low1000(i)).order_by("id").limit(1000)


@op("filter1000_rows", f"{TORTOISE} values()", TORTOISE)
async def filter1000_values(i: int, slot: int) -> None:
    await Book.filter(id__gt=low1000(i)).order_by("id").limit(1000).values()


@op("filter1000_rows", f"{TORTOISE} values_list()", TORTOISE)
async def filter1000_values_list(i: int, slot: int) -> None:
    await Book.filter(id__gt=low1000(i)).order_by("id").limit(1000).values_list(*BOOK_FIELDS)


@op("wide1000_models", TORTOISE)
async def wide1000(i: int, slot: int) -> None:
    await Wide.filter(id__gt=low1000(i)).order_by("id").limit(1000)


@op("select_related", TORTOISE)
async def select_related(i: int, slot: int) -> None:
    books = await Book.all().select_related("author").order_by("id").limit(500)
    assert books[-1].author.name


@op("prefetch", TORTOISE)
async def prefetch(i: int, slot: int) -> None:
    authors = await Author.all().order_by("id").limit(100).prefetch_related("books")
    assert len(authors[0].books) == 10


@op("prefetch_m2m", TORTOISE)
async def prefetch_m2m(i: int, slot: int) -> None:
    books = await Book.all().order_by("id").limit(100).prefetch_related("tags")
    assert len(books[0].tags) == 3


@op("insert", TORTOISE)
async def insert(i: int, slot: int) -> None:
    title, pages, price = ROWS[i % len(ROWS)]
    await Sink.create(title=title, pages=pages, price=price)


async def bulk_create(rows: list[tuple[str, int, float]]) -> None:
    objs = [Sink(title=t, pages=p, price=f) for t, p, f in rows]
    await Sink.bulk_create(objs)


op("bulk_create", f"{TORTOISE} (no keys)", TORTOISE)(lambda i, slot: bulk_create(ROWS))
op("bulk_create_c10", f"{TORTOISE} (no keys)", TORTOISE)(lambda i, slot: bulk_create(CHUNK))


@op("update", TORTOISE)
async def update(i: int, slot: int) -> None:
    low, high = range1000(i)
    await Book.filter(id__gt=low, id__lte=high).update(pages=pages(i))


@op("delete", TORTOISE)
async def delete(i: int, slot: int) -> None:
    await Trash.filter(id__gt=i * 1000, id__lte=(i + 1) * 1000).delete()


@op("transaction", TORTOISE)
async def transaction(i: int, slot: int) -> None:
    k = key(i)
    async with in_transaction():
        book = await Book.get(id=k)
        await Sink.create(title=book.title, pages=book.pages, price=book.price)
        await Book.filter(id=k).update(pages=book.pages + 1)


@op("gateway", TORTOISE)
async def gateway(i: int, slot: int) -> None:
    await Book.get(id=key(i))
    await asyncio.sleep(SLEEP)


async def setup() -> None:
    url = driver_url({"postgresql": "postgres"})
    if backend() != "sqlite":
        url += f"?minsize={POOL}&maxsize={POOL}"
    await Tortoise.init(db_url=url, modules={"models": ["__main__"]})


async def teardown() -> None:
    await Tortoise.close_connections()


if __name__ == "__main__":
    versions = {"tortoise-orm": version("tortoise-orm"), "python": sys.version.split()[0]}
    serve(versions, setup, teardown)
