"""``make demo``: a short tour of asyncdb on an embedded SQLite file.

Set ``DATABASE_URL`` (``postgresql://...`` or ``mysql://...``) to run it on a server instead.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from asyncdb import Database

metadata = sa.MetaData()
books = sa.Table(
    "demo_books",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("year", sa.Integer, nullable=False),
)


def heading(text: str) -> None:
    print(f"\n== {text} " + "=" * max(0, 70 - len(text)))


async def main(url: str) -> None:
    print(f"database: {Database(url).url}")
    async with Database(url, max_size=5) as db:
        await db.execute(sa.schema.DropTable(books, if_exists=True))
        await db.execute(sa.schema.CreateTable(books))

        heading("insert and query")
        await db.execute_many(
            sa.insert(books),
            [
                {"title": "The Left Hand of Darkness", "year": 1969},
                {"title": "Kindred", "year": 1979},
                {"title": "Neuromancer", "year": 1984},
                {"title": "The Fifth Season", "year": 2015},
            ],
        )
        rows = await db.fetch_all(
            "SELECT title, year FROM demo_books WHERE year < :year ORDER BY year", {"year": 2000}
        )
        for row in rows:
            print(f"  {row.year}  {row.title}")

        heading("a transaction that rolls back")
        try:
            async with db.transaction():
                await db.execute(sa.delete(books))
                print(f"  inside: {await db.fetch_val('SELECT count(*) FROM demo_books')} books")
                raise RuntimeError("oops")
        except RuntimeError:
            pass
        print(f"  after rollback: {await db.fetch_val('SELECT count(*) FROM demo_books')} books")

        heading("streamed iteration")
        async for row in db.iterate(sa.select(books).order_by(books.c.title), chunk_size=2):
            print(f"  #{row.id} {row.title}")

        heading("eager release: 50 requests, each a query then 50 ms of other I/O, pool of 5")
        db_held = Database(url, max_size=5)
        async with db_held:

            async def eager() -> None:
                await db.fetch_val("SELECT count(*) FROM demo_books")
                await asyncio.sleep(0.05)

            async def holding() -> None:
                async with db_held.connection():
                    await db_held.fetch_val("SELECT count(*) FROM demo_books")
                    await asyncio.sleep(0.05)

            for label, request in (("eager release", eager), ("holding a connection", holding)):
                start = time.perf_counter()
                await asyncio.gather(*(request() for _ in range(50)))
                elapsed = time.perf_counter() - start
                print(f"  {label:22} {elapsed * 1000:7.0f} ms  ({50 / elapsed:6.0f} req/s)")

        await db.execute(sa.schema.DropTable(books))


if __name__ == "__main__":
    default = f"sqlite:///{Path(tempfile.gettempdir()) / 'asyncdb-demo.db'}"
    url = os.environ.get("DATABASE_URL", default)
    asyncio.run(main(url))
    sys.exit(0)
