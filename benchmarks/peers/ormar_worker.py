"""ormar (``.venv-peers/ormar``): pydantic models on SQLAlchemy's asyncio engine, pool of ``POOL``.

ormar's default per-request pattern: every query takes a connection and gives it back.
Its ``bulk_create`` sends one multi-row INSERT and returns no keys.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from importlib.metadata import version
from typing import Any

import ormar
import sqlalchemy
from _protocol import (
    BULK_C10,
    POOL,
    SLEEP,
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

ORMAR = "ormar"
BOOK_FIELDS = ["id", "title", "author", "pages", "price", "published"]

DRIVERS = {
    "postgresql": "postgresql+asyncpg",
    "mysql": "mysql+aiomysql",
    "sqlite": "sqlite+aiosqlite",
}
database = ormar.DatabaseConnection(driver_url(DRIVERS), pool_size=POOL, max_overflow=0)
base = ormar.OrmarConfig(database=database, metadata=sqlalchemy.MetaData())


class Author(ormar.Model):
    ormar_config = base.copy(tablename="peer_authors")
    id: int = ormar.Integer(primary_key=True)
    name: str = ormar.String(max_length=100)


class Tag(ormar.Model):
    ormar_config = base.copy(tablename="peer_tags")
    id: int = ormar.Integer(primary_key=True)
    name: str = ormar.String(max_length=50)


class BookTag(ormar.Model):
    ormar_config = base.copy(tablename="peer_books_tags")
    id: int = ormar.Integer(primary_key=True)


class Book(ormar.Model):
    ormar_config = base.copy(tablename="peer_books")
    id: int = ormar.Integer(primary_key=True)
    title: str = ormar.String(max_length=200)
    author: Author = ormar.ForeignKey(Author, related_name="books", name="author_id")
    pages: int = ormar.Integer()
    price: float = ormar.Float()
    published: dt.date = ormar.Date()
    tags: list[Tag] = ormar.ManyToMany(
        Tag,
        through=BookTag,
        related_name="books",
        through_relation_name="book_id",
        through_reverse_relation_name="tag_id",
    )


class Sink(ormar.Model):
    ormar_config = base.copy(tablename="peer_sink")
    id: int = ormar.Integer(primary_key=True)
    title: str = ormar.String(max_length=200)
    pages: int = ormar.Integer()
    price: float = ormar.Float()


class Trash(ormar.Model):
    ormar_config = base.copy(tablename="peer_trash")
    id: int = ormar.Integer(primary_key=True)
    title: str = ormar.String(max_length=200)
    pages: int = ormar.Integer()


_wide: dict[str, Any] = {"ormar_config": base.copy(tablename="peer_wide")}
_wide["id"] = ormar.Integer(primary_key=True)
_wide.update({f"i{k:02}": ormar.Integer() for k in range(1, 11)})
_wide.update({f"s{k:02}": ormar.String(max_length=50) for k in range(1, 11)})
_wide.update({f"f{k:02}": ormar.Float() for k in range(1, 10)})
_wide["__annotations__"] = {name: Any for name in _wide if name != "ormar_config"}
Wide: Any = type("Wide", (ormar.Model,), _wide)

ROWS = sink_rows()
CHUNK = sink_rows(BULK_C10)


@op("get", ORMAR)
async def get(i: int, slot: int) -> None:
    await Book.objects.get(id=key(i))


@op("filter20_models", ORMAR)
async def filter20(i: int, slot: int) -> None:
    await Book.objects.filter(id__gt=low20(i)).order_by("id").limit(20).all()


@op("filter20_rows", f"{ORMAR} values()", ORMAR)
async def filter20_values(i: int, slot: int) -> None:
    await Book.objects.filter(id__gt=low20(i)).order_by("id").limit(20).values(BOOK_FIELDS)


@op("filter20_rows", f"{ORMAR} values_list()", ORMAR)
async def filter20_values_list(i: int, slot: int) -> None:
    await Book.objects.filter(id__gt=low20(i)).order_by("id").limit(20).values_list(BOOK_FIELDS)


@op("filter1000_models", ORMAR)
async def filter1000(i: int, slot: int) -> None:
    await Book.objects.filter(id__gt=low1000(i)).order_by("id").limit(1000).all()


@op("filter1000_rows", f"{ORMAR} values()", ORMAR)
async def filter1000_values(i: int, slot: int) -> None:
    qs = Book.objects.filter(id__gt=low1000(i)).order_by("id").limit(1000)
    await qs.values(BOOK_FIELDS)


@op("filter1000_rows", f"{ORMAR} values_list()", ORMAR)
async def filter1000_values_list(i: int, slot: int) -> None:
    qs = Book.objects.filter(id__gt=low1000(i)).order_by("id").limit(1000)
    await qs.values_list(BOOK_FIELDS)


@op("wide1000_models", ORMAR)
async def wide1000(i: int, slot: int) -> None:
    await Wide.objects.filter(id__gt=low1000(i)).order_by("id").limit(1000).all()


@op("select_related", ORMAR)
async def select_related(i: int, slot: int) -> None:
    books = await Book.objects.select_related("author").order_by("id").limit(500).all()
    assert books[-1].author.name


@op("prefetch", ORMAR)
async def prefetch(i: int, slot: int) -> None:
    authors = await Author.objects.prefetch_related("books").order_by("id").limit(100).all()
    assert len(authors[0].books) == 10


@op("prefetch_m2m", ORMAR)
async def prefetch_m2m(i: int, slot: int) -> None:
    books = await Book.objects.prefetch_related("tags").order_by("id").limit(100).all()
    assert len(books[0].tags) == 3


@op("insert", ORMAR)
async def insert(i: int, slot: int) -> None:
    title, pages, price = ROWS[i % len(ROWS)]
    await Sink.objects.create(title=title, pages=pages, price=price)


async def bulk_create(rows: list[tuple[str, int, float]]) -> None:
    objs = [Sink(title=t, pages=p, price=f) for t, p, f in rows]
    await Sink.objects.bulk_create(objs)


op("bulk_create", f"{ORMAR} (no keys)", ORMAR)(lambda i, slot: bulk_create(ROWS))
op("bulk_create_c10", f"{ORMAR} (no keys)", ORMAR)(lambda i, slot: bulk_create(CHUNK))


@op("update", ORMAR)
async def update(i: int, slot: int) -> None:
    low, high = range1000(i)
    await Book.objects.filter(id__gt=low, id__lte=high).update(pages=pages(i))


@op("delete", ORMAR)
async def delete(i: int, slot: int) -> None:
    await Trash.objects.filter(id__gt=i * 1000, id__lte=(i + 1) * 1000).delete()


@op("transaction", ORMAR)
async def transaction(i: int, slot: int) -> None:
    k = key(i)
    async with database.transaction():
        book = await Book.objects.get(id=k)
        await Sink.objects.create(title=book.title, pages=book.pages, price=book.price)
        await Book.objects.filter(id=k).update(pages=book.pages + 1)


@op("gateway", ORMAR)
async def gateway(i: int, slot: int) -> None:
    await Book.objects.get(id=key(i))
    await asyncio.sleep(SLEEP)


if __name__ == "__main__":
    versions = {
        "ormar": version("ormar"),
        "pydantic": version("pydantic"),
        "SQLAlchemy (ormar)": sqlalchemy.__version__,
        "python": sys.version.split()[0],
    }
    serve(versions, database.connect, database.disconnect)
