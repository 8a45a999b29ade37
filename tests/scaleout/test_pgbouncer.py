"""asyncdb and the ORM behind a real PgBouncer in transaction pooling mode.

PgBouncer (``conftest.py``) has two server connections; the client pools here have up to ten,
so consecutive statements of one client connection run on different server connections. That
is exactly what breaks named prepared statements and session state, and what ``pgbouncer=true``
must survive.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

import orm
from asyncdb import Database, DatabaseError, QueryTimeout
from asyncdb.transaction import Transaction

from .conftest import SERVER_POOL_SIZE
from .pgbouncer import PgBouncer

ROOT = Path(__file__).resolve().parents[2]
SQL = "SELECT pg_backend_pid() AS pid, CAST(:n AS integer) * 2 AS twice"


@pytest.fixture
async def db(pgbouncer: PgBouncer) -> AsyncIterator[Database]:
    async with Database(pgbouncer.url(pgbouncer="true"), min_size=1, max_size=10) as database:
        yield database


@pytest.fixture
async def table(db: Database) -> AsyncIterator[str]:
    """A fresh table ``name`` (id, name unique, value) of this test only."""
    name = f"pgb_t_{uuid.uuid4().hex[:8]}"
    await db.execute(
        f"CREATE TABLE {name} (id serial PRIMARY KEY, name text UNIQUE NOT NULL, value integer)"
    )
    try:
        yield name
    finally:
        await db.execute(f"DROP TABLE IF EXISTS {name}")


@dataclass
class Pin:
    """A transaction held open on one PgBouncer server connection (``pid``)."""

    db: Database
    tx: Transaction
    pid: int

    async def release(self) -> None:
        await self.tx.commit()
        await self.db.disconnect()


async def _pin_all_servers(url: str) -> list[Pin]:
    """Hold one open transaction on each of PgBouncer's server connections."""
    pins: list[Pin] = []
    try:
        for _ in range(SERVER_POOL_SIZE):
            holder = Database(url, min_size=1, max_size=1)
            await holder.connect()
            tx = await holder.transaction().start()
            pins.append(Pin(holder, tx, await holder.fetch_val("SELECT pg_backend_pid()")))
    except BaseException:
        for pin in pins:
            await pin.release()
        raise
    return pins


async def test_queries_and_transactions(db: Database, table: str) -> None:
    insert = f"INSERT INTO {table} (name, value) VALUES (:name, :value)"
    await db.execute(insert, {"name": "a", "value": 1})
    await db.execute_many(insert, [{"name": f"n{i}", "value": i} for i in range(2, 12)])
    async with db.transaction():
        await db.execute(insert, {"name": "in-tx", "value": 100})
        with pytest.raises(DatabaseError):
            async with db.transaction():  # a savepoint, rolled back alone
                await db.execute(insert, {"name": "in-tx", "value": 101})
        assert await db.fetch_val(f"SELECT value FROM {table} WHERE name = 'in-tx'") == 100
    with pytest.raises(RuntimeError):
        async with db.transaction(isolation="serializable"):
            await db.execute(insert, {"name": "rolled-back", "value": 0})
            raise RuntimeError
    rows = await db.fetch_all(f"SELECT name, value FROM {table} ORDER BY value")
    assert [r.value for r in rows] == [1, *range(2, 12), 100]
    result = await db.execute(f"UPDATE {table} SET value = value + 1 WHERE value < :v", {"v": 5})
    assert result.rowcount == 4
    assert await db.fetch_val(f"SELECT count(*) FROM {table}") == 12


async def test_many_tasks_share_two_server_connections(db: Database, table: str) -> None:
    insert = f"INSERT INTO {table} (name, value) VALUES (:name, :value)"

    async def worker(w: int) -> set[int]:
        pids = set()
        for i in range(10):
            row = await db.fetch_one(SQL, {"n": w * 100 + i})
            assert row is not None and row.twice == 2 * (w * 100 + i)
            pids.add(row.pid)
            async with db.transaction():
                await db.execute(insert, {"name": f"w{w}-{i}", "value": w})
                assert (
                    await db.fetch_val(f"SELECT count(*) FROM {table} WHERE value = :w", {"w": w})
                    == i + 1
                )
        return pids

    results = await asyncio.gather(*(worker(w) for w in range(30)))
    server_pids = set().union(*results)
    assert 1 <= len(server_pids) <= SERVER_POOL_SIZE
    assert db.pool_stats().size > SERVER_POOL_SIZE  # more clients than server connections
    assert await db.fetch_val(f"SELECT count(*) FROM {table}") == 300


async def test_the_same_statement_100_times_on_every_server_connection(db: Database) -> None:
    async def loop(start: int) -> list[int]:
        pids = []
        for n in range(start, start + 100):
            row = await db.fetch_one(SQL, {"n": n})
            assert row is not None and row.twice == 2 * n
            pids.append(row.pid)
        return pids

    pids = await asyncio.gather(*(loop(k * 1000) for k in range(10)))
    assert sum(len(p) for p in pids) == 1000


@pytest.mark.parametrize("option", ["pgbouncer=true", "none"])
async def test_a_statement_moving_to_another_server_connection(
    pgbouncer: PgBouncer, option: str
) -> None:
    """asyncpg's statement cache prepares named statements on one server connection; when the
    next run of the statement lands on the other one it is missing there. ``pgbouncer=true``
    turns named statements off; without it the same steps fail."""
    options = {"pgbouncer": "true"} if option == "pgbouncer=true" else {}
    client = Database(pgbouncer.url(**options), min_size=1, max_size=1)
    pins: list[Pin] = []
    try:
        await client.connect()
        first = await client.fetch_one(SQL, {"n": 1})  # prepared (and run) on one server
        assert first is not None
        pins = await _pin_all_servers(pgbouncer.url(pgbouncer="true"))
        assert first.pid in {pin.pid for pin in pins}
        # Free the *other* server connection: the client's next statement must run there.
        other = next(pin for pin in pins if pin.pid != first.pid)
        pins.remove(other)
        await other.release()
        if option == "none":
            with pytest.raises(DatabaseError, match=r"prepared statement .* does not exist"):
                await client.fetch_one(SQL, {"n": 2})
        else:
            second = await client.fetch_one(SQL, {"n": 2})
            assert second is not None and second.twice == 4 and second.pid == other.pid
    finally:
        for pin in pins:
            await pin.release()
        await client.disconnect()


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from asyncdb import Database

    QUERY = "SELECT generate_series(1, 25) AS x"

    async def main():
        async with Database(sys.argv[1]) as db:
            rows = [r.x async for r in db.iterate(QUERY, chunk_size=10)]
            assert rows == list(range(1, 26)), rows
            async with db.transaction():
                rows = [r.x async for r in db.iterate(QUERY, chunk_size=7)]
                assert len(rows) == 25

    asyncio.run(main())
    """
)


async def _run_child(url: str) -> None:
    """Run CHILD as a separate application process (its own asyncpg statement counter)."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, url, cwd=ROOT, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await child.communicate()
    assert child.returncode == 0, stderr.decode()


async def _prepared_statements(pgbouncer: PgBouncer) -> list[str]:
    """The prepared statements left on PgBouncer's server connections (cleared there)."""
    pins = await _pin_all_servers(pgbouncer.url(pgbouncer="true"))
    names = []
    try:
        for pin in pins:
            rows = await pin.db.fetch_all("SELECT name FROM pg_prepared_statements")
            names.extend(r.name for r in rows)
            await pin.db.execute("DEALLOCATE ALL")
    finally:
        for pin in pins:
            await pin.release()
    return names


@pytest.mark.parametrize("option", ["pgbouncer=true", "statement_cache_size=0"])
async def test_iterate_leaves_no_statement_on_shared_server_connections(
    pgbouncer: PgBouncer, option: str
) -> None:
    """Two application processes iterate one after the other through the same PgBouncer.

    asyncpg's cursors use a named prepared statement even with ``statement_cache_size=0``;
    its name (``__asyncpg_stmt_1__``, counted per process) is left on the server connection,
    and the next process meets it there. ``pgbouncer=true`` streams through SQL cursors.
    """
    key, value = option.split("=")
    url = pgbouncer.url(**{key: value})
    await _prepared_statements(pgbouncer)  # start clean
    await _run_child(url)
    leftovers = await _prepared_statements(pgbouncer)
    if option == "pgbouncer=true":
        assert leftovers == []
        for _ in range(2):
            await _run_child(url)
        assert await _prepared_statements(pgbouncer) == []
    else:
        assert any(name.startswith("__asyncpg_stmt_") for name in leftovers)


async def test_iterate_with_other_queries_inside_the_loop(db: Database, table: str) -> None:
    await db.execute_many(
        f"INSERT INTO {table} (name, value) VALUES (:name, :value)",
        [{"name": f"r{i}", "value": i} for i in range(250)],
    )
    seen = []
    async for row in db.iterate(f"SELECT value FROM {table} ORDER BY value", chunk_size=40):
        seen.append(row.value)
        if row.value % 50 == 0:
            assert await db.fetch_val(f"SELECT count(*) FROM {table}") == 250
    assert seen == list(range(250))
    async with db.transaction():
        partial = []
        async for row in db.iterate(
            f"SELECT value FROM {table} WHERE value >= :v ORDER BY value", {"v": 200}, chunk_size=7
        ):
            partial.append(row.value)
            if len(partial) == 10:
                break  # leaving early inside the transaction
        await db.execute(f"DELETE FROM {table} WHERE value >= :v", {"v": 200})
    assert partial == list(range(200, 210))
    assert await db.fetch_val(f"SELECT count(*) FROM {table}") == 200


async def test_timeout_cancels_through_pgbouncer(db: Database) -> None:
    # PgBouncer hands out its own backend ids: the cancellation must go through it.
    with pytest.raises(QueryTimeout):
        await db.fetch_val("SELECT pg_sleep(30)", timeout=0.2)
    assert await db.fetch_val("SELECT 41 + 1") == 42
    active = await db.fetch_val(
        "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' "
        "AND state = 'active'"
    )
    assert active == 0


async def test_json_codecs_on_every_server_connection(db: Database, table: str) -> None:
    await db.execute(f"ALTER TABLE {table} ADD COLUMN doc jsonb")
    docs = sa.table(table, sa.column("name"), sa.column("doc", sa.JSON))

    async def one(i: int) -> None:
        await db.execute(sa.insert(docs).values(name=f"d{i}", doc={"i": i, "tags": ["a", "b"]}))
        doc = await db.fetch_val(sa.select(docs.c.doc).where(docs.c.name == f"d{i}"))
        assert doc == {"i": i, "tags": ["a", "b"]}

    await asyncio.gather(*(one(i) for i in range(20)))


async def test_orm_crud_through_pgbouncer(db: Database) -> None:
    suffix = uuid.uuid4().hex[:8]
    models = orm.ModelRegistry(database=db)

    class Author(orm.Model):
        registry = models
        tablename = f"pgb_authors_{suffix}"
        id = orm.Integer(primary_key=True)
        name = orm.String(max_length=100, unique=True)

    class Book(orm.Model):
        registry = models
        tablename = f"pgb_books_{suffix}"
        id = orm.Integer(primary_key=True)
        title = orm.String(max_length=200)
        pages = orm.Integer(default=100)
        data = orm.JSON(null=True)
        author = orm.ForeignKey(Author, related_name="books", on_delete=orm.CASCADE)

    await models.create_all()
    try:
        ann = await Author.objects.create(name="Ann")
        bob = await Author.objects.create(name="Bob")
        await Book.objects.bulk_create(
            [Book(title=f"A{i}", pages=10 * i, author=ann, data={"i": i}) for i in range(1, 6)]
            + [Book(title="B1", author=bob)]
        )

        async def read(i: int) -> None:
            book = await Book.objects.select_related("author").get(title=f"A{i}")
            assert book.author.name == "Ann" and book.data == {"i": i}

        await asyncio.gather(*(read(i) for i in range(1, 6)))
        authors = await Author.objects.prefetch_related("books").order_by("name")
        assert [len(a.books) for a in authors] == [5, 1]
        assert await Book.objects.filter(author__name="Ann", pages__gte=30).count() == 3
        assert await Book.objects.filter(author=ann).update(pages=1) == 5
        titles = [b.title async for b in Book.objects.order_by("title")]
        assert titles == ["A1", "A2", "A3", "A4", "A5", "B1"]
        async with db.transaction():
            book = await Book.objects.select_for_update().get(title="B1")
            book.pages = 7
            await book.save()
        await book.load()
        assert book.pages == 7
        with pytest.raises(RuntimeError):
            async with db.transaction():
                await Author.objects.filter(name="Bob").delete()
                raise RuntimeError
        assert await Book.objects.count() == 6
        assert await Author.objects.filter(name="Ann").delete() >= 1
        assert await Book.objects.count() == 1
    finally:
        await models.drop_all()
