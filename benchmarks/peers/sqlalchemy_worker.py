"""SQLAlchemy 2 asyncio, Core and ORM (the project's venv has SQLAlchemy 2.0).

Idiomatic patterns: Core statements built per call and run with ``engine.connect()`` (or
``engine.begin()`` for writes); the ORM with an ``AsyncSession`` per operation (per request in
the gateway: the session keeps its connection until it closes, across the request's sleep).
Pool of ``POOL`` connections, no overflow.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys

import sqlalchemy as sa
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
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    joinedload,
    mapped_column,
    relationship,
    selectinload,
)

CORE = "SQLAlchemy Core"
DRIVERS = {
    "postgresql": "postgresql+asyncpg",
    "mysql": "mysql+aiomysql",
    "sqlite": "sqlite+aiosqlite",
}
ORM = "SQLAlchemy ORM"


class Base(DeclarativeBase):
    pass


books_tags = sa.Table(
    "peer_books_tags",
    Base.metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("book_id", sa.ForeignKey("peer_books.id")),
    sa.Column("tag_id", sa.ForeignKey("peer_tags.id")),
)


class Author(Base):
    __tablename__ = "peer_authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    books: Mapped[list[Book]] = relationship(back_populates="author")


class Tag(Base):
    __tablename__ = "peer_tags"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))


class Book(Base):
    __tablename__ = "peer_books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("peer_authors.id"))
    pages: Mapped[int]
    price: Mapped[float]
    published: Mapped[dt.date]
    author: Mapped[Author] = relationship(back_populates="books")
    tags: Mapped[list[Tag]] = relationship(secondary=books_tags)


class Sink(Base):
    __tablename__ = "peer_sink"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    pages: Mapped[int]
    price: Mapped[float]


class Trash(Base):
    __tablename__ = "peer_trash"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    pages: Mapped[int]


wide = sa.Table(
    "peer_wide",
    Base.metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    *(sa.Column(f"i{k:02}", sa.Integer) for k in range(1, 11)),
    *(sa.Column(f"s{k:02}", sa.String(50)) for k in range(1, 11)),
    *(sa.Column(f"f{k:02}", sa.Float) for k in range(1, 10)),
)


class Wide(Base):
    __table__ = wide


books = Book.__table__
authors = Author.__table__
sink = Sink.__table__
ROWS = sink_rows()
CHUNK = sink_rows(BULK_C10)
engines: list[AsyncEngine] = []
Session = async_sessionmaker(expire_on_commit=False)


def engine() -> AsyncEngine:
    return engines[0]


# -- reads --------------------------------------------------------------------------------------


@op("get", ORM)
async def orm_get(i: int, slot: int) -> None:
    async with Session() as s:
        await s.get(Book, key(i))


@op("get", CORE)
async def core_get(i: int, slot: int) -> None:
    async with engine().connect() as conn:
        (await conn.execute(sa.select(books).where(books.c.id == key(i)))).first()


@op("filter20_models", ORM)
async def orm_filter20(i: int, slot: int) -> None:
    async with Session() as s:
        stmt = sa.select(Book).where(Book.id > low20(i)).order_by(Book.id).limit(20)
        (await s.scalars(stmt)).all()


@op("filter20_rows", CORE)
async def core_filter20(i: int, slot: int) -> None:
    async with engine().connect() as conn:
        stmt = sa.select(books).where(books.c.id > low20(i)).order_by(books.c.id).limit(20)
        (await conn.execute(stmt)).all()


@op("filter1000_models", ORM)
async def orm_filter1000(i: int, slot: int) -> None:
    async with Session() as s:
        stmt = sa.select(Book).where(Book.id > low1000(i)).order_by(Book.id).limit(1000)
        (await s.scalars(stmt)).all()


@op("filter1000_rows", CORE)
async def core_filter1000(i: int, slot: int) -> None:
    async with engine().connect() as conn:
        stmt = sa.select(books).where(books.c.id > low1000(i)).order_by(books.c.id).limit(1000)
        (await conn.execute(stmt)).all()


@op("wide1000_models", ORM)
async def orm_wide1000(i: int, slot: int) -> None:
    async with Session() as s:
        stmt = sa.select(Wide).where(wide.c.id > low1000(i)).order_by(wide.c.id).limit(1000)
        (await s.scalars(stmt)).all()


@op("select_related", ORM)
async def orm_select_related(i: int, slot: int) -> None:
    async with Session() as s:
        stmt = sa.select(Book).options(joinedload(Book.author)).order_by(Book.id).limit(500)
        result = (await s.scalars(stmt)).all()
        assert result[-1].author.name


@op("prefetch", ORM)
async def orm_prefetch(i: int, slot: int) -> None:
    async with Session() as s:
        stmt = sa.select(Author).options(selectinload(Author.books)).order_by(Author.id)
        result = (await s.scalars(stmt.limit(100))).all()
        assert len(result[0].books) == 10


@op("prefetch_m2m", ORM)
async def orm_prefetch_m2m(i: int, slot: int) -> None:
    async with Session() as s:
        stmt = sa.select(Book).options(selectinload(Book.tags)).order_by(Book.id).limit(100)
        result = (await s.scalars(stmt)).all()
        assert len(result[0].tags) == 3


# -- writes -------------------------------------------------------------------------------------


@op("insert", ORM)
async def orm_insert(i: int, slot: int) -> None:
    title, pages, price = ROWS[i % len(ROWS)]
    async with Session() as s:
        row = Sink(title=title, pages=pages, price=price)
        s.add(row)
        await s.commit()
        assert row.id is not None


@op("insert", CORE)
async def core_insert(i: int, slot: int) -> None:
    title, pages, price = ROWS[i % len(ROWS)]
    async with engine().begin() as conn:
        stmt = sa.insert(sink).values(title=title, pages=pages, price=price).returning(sink.c.id)
        (await conn.execute(stmt)).scalar_one()


async def orm_bulk(rows: list[tuple[str, int, float]]) -> None:
    async with Session() as s:
        objs = [Sink(title=t, pages=p, price=f) for t, p, f in rows]
        s.add_all(objs)
        await s.commit()
        assert objs[-1].id is not None


async def core_bulk(rows: list[tuple[str, int, float]]) -> None:
    async with engine().begin() as conn:
        values = [{"title": t, "pages": p, "price": f} for t, p, f in rows]
        keys = (await conn.execute(sa.insert(sink).returning(sink.c.id), values)).all()
        assert len(keys) == len(rows)


op("bulk_create", ORM)(lambda i, slot: orm_bulk(ROWS))
op("bulk_create", CORE)(lambda i, slot: core_bulk(ROWS))
op("bulk_create_c10", ORM)(lambda i, slot: orm_bulk(CHUNK))
op("bulk_create_c10", CORE)(lambda i, slot: core_bulk(CHUNK))


@op("update", ORM)
async def orm_update(i: int, slot: int) -> None:
    low, high = range1000(i)
    async with Session() as s:
        where = (Book.id > low) & (Book.id <= high)
        await s.execute(sa.update(Book).where(where).values(pages=pages(i)))
        await s.commit()


@op("update", CORE)
async def core_update(i: int, slot: int) -> None:
    low, high = range1000(i)
    async with engine().begin() as conn:
        where = (books.c.id > low) & (books.c.id <= high)
        await conn.execute(sa.update(books).where(where).values(pages=pages(i)))


@op("delete", ORM)
async def orm_delete(i: int, slot: int) -> None:
    async with Session() as s:
        where = (Trash.id > i * 1000) & (Trash.id <= (i + 1) * 1000)
        await s.execute(sa.delete(Trash).where(where))
        await s.commit()


@op("transaction", ORM)
async def orm_transaction(i: int, slot: int) -> None:
    async with Session() as s, s.begin():
        book = await s.get(Book, key(i))
        assert book is not None
        s.add(Sink(title=book.title, pages=book.pages, price=book.price))
        book.pages += 1


@op("transaction", CORE)
async def core_transaction(i: int, slot: int) -> None:
    k = key(i)
    async with engine().begin() as conn:
        book = (await conn.execute(sa.select(books).where(books.c.id == k))).one()
        await conn.execute(
            sa.insert(sink).values(title=book.title, pages=book.pages, price=book.price)
        )
        await conn.execute(sa.update(books).where(books.c.id == k).values(pages=book.pages + 1))


# -- the gateway --------------------------------------------------------------------------------


@op("gateway", f"{ORM} (AsyncSession per request)", ORM)
async def orm_gateway(i: int, slot: int) -> None:
    async with Session() as s:
        await s.get(Book, key(i))
        await asyncio.sleep(SLEEP)


@op("gateway", f"{CORE} (connection per query)", CORE)
async def core_gateway(i: int, slot: int) -> None:
    async with engine().connect() as conn:
        (await conn.execute(sa.select(books).where(books.c.id == key(i)))).first()
    await asyncio.sleep(SLEEP)


async def setup() -> None:
    url = driver_url(DRIVERS)
    engines.append(create_async_engine(url, pool_size=POOL, max_overflow=0, pool_timeout=120))
    Session.configure(bind=engines[0])


async def teardown() -> None:
    await engines[0].dispose()


if __name__ == "__main__":
    serve({"SQLAlchemy": sa.__version__, "python": sys.version.split()[0]}, setup, teardown)
