"""``make demo``: a tour of asyncdb, orm and migrations on an embedded SQLite file.

Set ``DATABASE_URL`` (``postgresql://...`` or ``mysql://...``) to run the same tour on a server;
it removes what it created (a downgrade to ``base``, then its own Alembic version table) when it
ends, and leaves everything else in that database alone. A database it cannot reach is one line
on stderr and exit status 1.
"""

from __future__ import annotations

import asyncio
import decimal
import os
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

import migrations
import orm
from asyncdb import Database, DatabaseError, DatabaseURL
from demo.models import VERSION_TABLE, Author, Book, Tag, models

MIGRATIONS = Path(__file__).resolve().parent / "db_migrations"
SEED = [
    ("Ursula K. Le Guin", 1929, [("The Left Hand of Darkness", 1969), ("The Dispossessed", 1974)]),
    ("Octavia E. Butler", 1947, [("Kindred", 1979), ("Parable of the Sower", 1993)]),
    ("William Gibson", 1948, [("Neuromancer", 1984)]),
    ("N. K. Jemisin", 1972, [("The Fifth Season", 2015), ("The Obelisk Gate", 2016)]),
]


def heading(text: str) -> None:
    print(f"\n== {text} " + "=" * max(0, 72 - len(text)))


async def tour(db: Database) -> None:
    heading("migrations: apply the demo's revisions")
    applied = await migrations.migrate(db, models, MIGRATIONS)
    for step in applied:
        print(f"  applied {step.revision}: {step.message}")

    heading("seed data in one transaction (bulk_create: one INSERT per model)")
    async with db.transaction():
        tags = {name: await Tag.objects.create(name=name) for name in ("sf", "classic", "award")}
        authors = await Author.objects.bulk_create(
            [Author(name=name, born=born) for name, born, _ in SEED]
        )
        books = await Book.objects.bulk_create(
            [
                Book(title=title, year=year, price=decimal.Decimal("9.99"), author=author)
                for author, (_, _, titles) in zip(authors, SEED, strict=True)
                for title, year in titles
            ]
        )
        for book in books:
            await book.tags.add(tags["sf"], *([tags["classic"]] if book.year < 1990 else []))
    print(f"  {await Author.objects.count()} authors, {await Book.objects.count()} books")

    heading("raw SQL through asyncdb")
    rows = await db.fetch_all(
        "SELECT a.name, count(b.id) AS n FROM demo_authors a "
        "JOIN demo_books b ON b.author_id = a.id GROUP BY a.name HAVING count(b.id) > :n "
        "ORDER BY a.name",
        {"n": 1},
    )
    for row in rows:
        print(f"  {row.name}: {row.n} books")

    heading("ORM queries")
    early = (
        await Book.objects.filter(year__lt=1980).order_by("year").values_list("title", flat=True)
    )
    print(f"  before 1980: {', '.join(early)}")
    prolific = await Author.objects.annotate(n=orm.Count("books")).filter(n__gte=2).order_by("name")
    print(f"  two books or more: {', '.join(a.name for a in prolific)}")
    cheap = await Book.objects.filter(author__name__icontains="butler").update(
        price=decimal.Decimal("7.50")
    )
    print(f"  repriced {cheap} books by Butler")

    heading("loading relations: one query each way, counted")
    async with db.capture_queries() as captured:
        listed = await Book.objects.select_related("author").order_by("title")
    print(f"  select_related('author'): {len(listed)} books in {len(captured)} query")
    print(f"    e.g. {listed[0].title} by {listed[0].author.name}")
    async with db.capture_queries() as captured:
        with_books = await Author.objects.prefetch_related("books__tags").order_by("name")
    print(
        f"  prefetch_related('books__tags'): {len(with_books)} authors in {len(captured)} queries"
    )
    first = with_books[0]
    print(
        f"    e.g. {first.name}: "
        + "; ".join(f"{b.title} [{', '.join(t.name for t in b.tags)}]" for b in first.books)
    )

    heading("no implicit I/O: an unloaded relation says how to load it")
    book = await Book.objects.order_by("id").first()
    assert book is not None
    print(f"  book.author_id = {book.author_id} (always there)")
    async with db.capture_queries() as captured:
        try:
            print(book.author.name)
        except orm.RelationNotLoaded as exc:
            print(f"  RelationNotLoaded: {exc}")
        try:
            print(len(book.tags))
        except orm.RelationNotLoaded as exc:
            print(f"  RelationNotLoaded: {exc}")
    print(f"  queries issued by touching them: {len(captured)}")
    await book.author.load()
    print(f"  after `await book.author.load()`: {book.author.name}")

    heading("a transaction that rolls back")
    try:
        async with db.transaction():
            deleted = await Book.objects.filter(year__lt=2000).delete()
            print(f"  inside: deleted {deleted}, {await Book.objects.count()} books left")
            raise RuntimeError("changed my mind")
    except RuntimeError:
        pass
    print(f"  after rollback: {await Book.objects.count()} books")

    heading("streamed iteration (server-side cursor; bounded memory)")
    async for book in Book.objects.order_by("year"):
        print(f"  {book.year} {book.title}")

    await eager_release(db)


async def eager_release(db: Database) -> None:
    """Many concurrent "requests", each one query then 50 ms of other I/O, on a small pool."""
    requests, pool = 100, 4
    heading(f"eager release: {requests} requests, each a query then 50 ms of I/O, pool of {pool}")
    for label, hold in (("eager release (default)", False), ("holding a connection", True)):
        async with Database(db.url.render(hide_password=False), max_size=pool) as small:
            models.database = small

            async def request(hold: bool = hold, small: Database = small) -> None:
                if hold:  # the session-per-request pattern of other ORMs
                    async with small.connection():
                        await Book.objects.filter(year__gt=1970).count()
                        await asyncio.sleep(0.05)
                else:
                    await Book.objects.filter(year__gt=1970).count()
                    await asyncio.sleep(0.05)  # e.g. awaiting an HTTP API: no connection held

            start = time.perf_counter()
            await asyncio.gather(*(request() for _ in range(requests)))
            elapsed = time.perf_counter() - start
            print(f"  {label:24} {elapsed * 1000:7.0f} ms  {requests / elapsed:7.0f} req/s")
    models.database = db


async def main(url: str) -> None:
    async with Database(url) as db:
        print(f"database: {db.url}")
        models.database = db
        try:
            await tour(db)
        finally:
            models.database = db
            heading("clean up: downgrade to base")
            await migrations.downgrade(db, models, MIGRATIONS, revision="base")
            version_table = sa.Table(VERSION_TABLE, sa.MetaData())
            await db.execute(sa.schema.DropTable(version_table, if_exists=True))
            print("  done")


def default_url() -> str:
    path = Path(tempfile.gettempdir()) / "asyncdb-demo.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def run(url: str) -> int:
    """Run the tour on ``url``; return the exit status (1, after one line on stderr, when the
    URL is malformed or the database cannot be reached or refuses the demo)."""
    started = time.perf_counter()
    try:
        DatabaseURL(url)
    except ValueError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    try:
        asyncio.run(main(url))
    except (DatabaseError, migrations.MigrationError) as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    print(f"\n(demo finished in {time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(run(os.environ.get("DATABASE_URL") or default_url()))
