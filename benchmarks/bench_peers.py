"""``make bench-peers``: the ORM against the raw drivers and the peer libraries, side by side
(issue 7), on PostgreSQL, MariaDB and SQLite.

Every library runs in a worker process (``benchmarks/peers/<peer>_worker.py``) under its own
virtual environment (``.venv-peers/<peer>/``, made by the Makefile from the pinned
``benchmarks/peers/requirements-<peer>.txt``; they pin conflicting dependencies). Ours, the raw
drivers (asyncpg, aiomysql, aiosqlite) and SQLAlchemy run under the project's venv, in worker
processes too, so every contender runs under the same conditions: its own process and event
loop, a garbage collection before each batch, the heap frozen after the warm-up.

For every backend this process creates the ``peer_*`` tables and their data once (the same
tables and rows on all three; every worker maps its models onto them), then for every workload
runs interleaved rounds: in each round every contender's worker runs one batch and reports its
own wall and CPU time (the pipe is not in the figures), in an order rotated from round to round.
Every workload but the gateway runs at one task and at ten concurrent tasks (pool of 10 for
everyone). A contender that fails or hangs is left out of that workload with its error in the
table's text. Tables and targets come from :mod:`benchmarks.harness`; the report goes to
``benchmarks/results/peers.md``, a bar chart to ``benchmarks/results/peers.png`` (drawn by
``.venv-peers/tools``, which has matplotlib); ``--docs`` also copies the summary into
``docs/performance.md`` between the ``bench-peers`` markers.

    .venv/bin/python -m benchmarks.bench_peers [--quick] [--only WORD] [--backend B] [--docs]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import asyncpg
import sqlalchemy as sa

from asyncdb import Database

from .bench_asyncdb import postgres_dsn
from .common import mysql_url
from .harness import Kind, Measurement, Report, Target, paired_ratio, percentile

__all__ = ["main", "splice_docs"]

ROOT = Path(__file__).resolve().parent.parent
PEERS_DIR = Path(__file__).resolve().parent / "peers"
RESULTS = Path(__file__).resolve().parent / "results"
VENVS = ROOT / ".venv-peers"
DOCS = ROOT / "docs" / "performance.md"
DOCS_BEGIN = "<!-- bench-peers:begin -->"
DOCS_END = "<!-- bench-peers:end -->"

OURS = "asyncdb orm"
#: The raw driver's column in the summary (asyncpg, aiomysql or aiosqlite by backend).
RAW = "asyncpg"
SA_ORM = "SQLAlchemy ORM"
SA_CORE = "SQLAlchemy Core"
TORTOISE = "Tortoise ORM"
ORMAR = "ormar"
DATABASES = "databases"
ENCODE_ORM = "encode/orm"
#: Summary columns, in order (a worker's contenders name their column).
COLUMNS = (OURS, RAW, SA_CORE, SA_ORM, TORTOISE, ORMAR, DATABASES, ENCODE_ORM)
RAW_DRIVER = {"postgresql": "asyncpg", "mysql": "aiomysql", "sqlite": "aiosqlite"}
#: Seconds a worker may take over one batch before it cancels the batch and answers an error: the
#: slowest batch of the suite takes a few seconds.
BATCH_TIMEOUT = 120.0
#: Seconds this process's untimed hooks (emptying and refilling tables) wait for a lock a worker
#: holds before they fail the workload (SQLite: asyncdb's busy timeout, 5 s).
LOCK_TIMEOUT = 60.0
#: Seconds more before a worker that has not answered (its event loop blocked) is killed.
KILL_GRACE = 60.0


@dataclass(frozen=True)
class Peer:
    """A worker script and the interpreter of the venv it runs under."""

    name: str
    python: Path
    script: str

    @property
    def path(self) -> Path:
        return PEERS_DIR / self.script


PEERS = (
    Peer("asyncdb", Path(sys.executable), "asyncdb_worker.py"),
    Peer("raw driver", Path(sys.executable), "raw_worker.py"),
    Peer("sqlalchemy", Path(sys.executable), "sqlalchemy_worker.py"),
    Peer("tortoise", VENVS / "tortoise" / "bin" / "python", "tortoise_worker.py"),
    Peer("ormar", VENVS / "ormar" / "bin" / "python", "ormar_worker.py"),
    Peer("encode", VENVS / "encode" / "bin" / "python", "encode_worker.py"),
)


BACKENDS = ("postgresql", "mysql", "sqlite")
LABELS = {"postgresql": "PostgreSQL", "sqlite": "SQLite", "mysql": "MariaDB"}


@dataclass(frozen=True)
class Workload:
    """One table of the report: a worker operation at some batch size and concurrency.

    ``n`` operations per batch (at ``concurrency`` tasks, shared between them); ``unit`` names
    one operation and ``items_per_op`` the rows it handles; ``before`` names an untimed hook run
    before every batch (see :func:`before_hooks`).
    """

    name: str
    op: str
    title: str
    what: str
    n: int
    unit: str = "op"
    items_per_op: int = 1
    concurrency: int = 1
    burst: bool = False
    rounds: int | None = None
    before: str | None = None


TEN = " Shared by 10 concurrent tasks, pool of 10."


def _pair(one: Workload, n10: int, **ten: Any) -> tuple[Workload, Workload]:
    """``one`` at 1 task, and its 10-task variant (``n10`` operations a batch)."""
    changes: dict[str, Any] = {
        "name": f"{one.name}_c10",
        "title": f"{one.title}, 10 tasks",
        "what": one.what + TEN,
        "n": n10,
        "concurrency": 10,
    }
    changes.update(ten)
    return replace(one, title=f"{one.title}, 1 task"), replace(one, **changes)


WORKLOADS: tuple[Workload, ...] = (
    *_pair(Workload(
        "get", "get", "get by primary key", "A book (6 columns) by key.", 200, "get"
    ), 400),
    *_pair(Workload(
        "filter20", "filter20_models", "filter, 20 rows as models",
        "`filter(id > x).order_by(id)[:20]` hydrated as model instances (raw: the driver's rows).",
        100, "call", 20,
    ), 200),
    *_pair(Workload(
        "filter20_rows", "filter20_rows", "filter, 20 rows as dicts/tuples",
        "The same query returning plain rows: `values()`/`values_list()`, Core rows, the "
        "driver's rows.", 100, "call", 20,
    ), 200),
    *_pair(Workload(
        "filter1000", "filter1000_models", "filter, 1,000 rows as models",
        "`filter(id > x).order_by(id)[:1000]` hydrated as model instances (raw: the driver's "
        "rows).", 2, "call", 1000,
    ), 10),
    *_pair(Workload(
        "filter1000_rows", "filter1000_rows", "filter, 1,000 rows as dicts/tuples",
        "The same query returning plain rows.", 2, "call", 1000,
    ), 10),
    *_pair(Workload(
        "wide1000", "wide1000_models", "1,000 rows of the 30-column model",
        "`filter(id > x).order_by(id)[:1000]` on `peer_wide` (10 int, 10 varchar, 9 float).",
        1, "call", 1000,
    ), 10),
    *_pair(Workload(
        "select_related", "select_related", "select_related, 500 books with their author",
        "One JOIN; every book gets its author object (raw: the joined rows).", 3, "call", 500,
    ), 10),
    *_pair(Workload(
        "prefetch", "prefetch", "prefetch_related, 100 authors x 10 books",
        "Two queries (authors, then their books), books attached to their authors (raw: the "
        "two queries and the books grouped by author in a dict).", 3, "call", 1100,
    ), 10),
    *_pair(Workload(
        "prefetch_m2m", "prefetch_m2m", "prefetch_related, 100 books x 3 tags (many-to-many)",
        "Two queries through the link table `peer_books_tags` (raw: the two queries and the "
        "tags grouped by book in a dict).", 5, "call", 400,
    ), 20),
    *_pair(Workload(
        "insert", "insert", "single inserts",
        "One row per call into `peer_sink`, key returned.", 100, "insert",
        before="truncate_sink",
    ), 200),
    *_pair(Workload(
        "bulk_create", "bulk_create", "bulk_create of 10,000 rows, keys returned",
        "Objects built from the same 10,000 tuples inside the timed call, then one bulk call; "
        "`peer_sink` emptied before every batch (untimed).",
        1, "call", 10_000, rounds=5, before="truncate_sink",
    ), 10, op="bulk_create_c10", items_per_op=1000,
        title="bulk_create of 10 x 1,000 rows, keys returned, 10 tasks",
        what="10 tasks at once, each building 1,000 objects from tuples and bulk-creating "
        "them in one call (10,000 rows a batch, as at one task); `peer_sink` emptied before "
        "every batch (untimed). Pool of 10.",
    ),
    *_pair(Workload(
        "update", "update", "update of 1,000 rows",
        "`filter(low < id <= low + 1000).update(pages=constant)` (a constant: not every peer "
        "has F()); ten disjoint ranges, one per task at 10 tasks, so no task waits on "
        "another's row locks.", 3, "call", 1000,
    ), 10),
    *_pair(Workload(
        "delete", "delete", "delete of 1,000 rows",
        "`filter(range).delete()` on `peer_trash`, a range of its own per call, the table "
        "refilled before every batch (untimed).", 3, "call", 1000, before="refill_trash",
    ), 10),
    *_pair(Workload(
        "transaction", "transaction", "a 3-statement transaction",
        "BEGIN; get a book; insert a row; update the book; COMMIT.", 50, "tx",
        before="truncate_sink",
    ), 100),
    Workload(
        "gateway", "gateway", "gateway: 500 concurrent requests, pool of 10",
        "500 tasks at once, pool of 10; each request gets a book by key with the library's "
        "idiomatic per-request pattern, then awaits `asyncio.sleep(0.02)` (other I/O). Latency: "
        "task start to finish, including the wait for a connection.",
        500, "req", burst=True, rounds=5,
    ),
)  # fmt: skip


# -- the schema and data, created once per backend by this process ------------------------------
#
# 1,000 authors with 10 books each; 20 tags, 3 per book; 10,000 rows of the 30-column model;
# the write targets peer_sink and peer_trash, empty. PostgreSQL generates the rows server-side
# (generate_series); MariaDB and SQLite get the same rows from Python (the *_rows functions
# below compute what the SQL computes).

WIDE_COLUMNS = (
    [f"i{k:02} integer NOT NULL" for k in range(1, 11)]
    + [f"s{k:02} varchar(50) NOT NULL" for k in range(1, 11)]
    + [f"f{k:02} double precision NOT NULL" for k in range(1, 10)]
)
WIDE_VALUES = (
    [f"g * {k} % 1000" for k in range(1, 11)]
    + [f"'s{k}-' || g" for k in range(1, 11)]
    + [f"g / {k}.0" for k in range(1, 10)]
)
TABLES = (
    "peer_books_tags",
    "peer_books",
    "peer_tags",
    "peer_authors",
    "peer_wide",
    "peer_sink",
    "peer_trash",
)
SCHEMA = [
    "CREATE TABLE peer_authors (id serial PRIMARY KEY, name varchar(100) NOT NULL)",
    "CREATE TABLE peer_tags (id serial PRIMARY KEY, name varchar(50) NOT NULL)",
    """CREATE TABLE peer_books (
        id serial PRIMARY KEY, title varchar(200) NOT NULL,
        author_id integer NOT NULL REFERENCES peer_authors (id) ON DELETE CASCADE,
        pages integer NOT NULL, price double precision NOT NULL, published date NOT NULL)""",
    "CREATE INDEX peer_books_author_id ON peer_books (author_id)",
    """CREATE TABLE peer_books_tags (
        id serial PRIMARY KEY,
        book_id integer NOT NULL REFERENCES peer_books (id) ON DELETE CASCADE,
        tag_id integer NOT NULL REFERENCES peer_tags (id) ON DELETE CASCADE,
        UNIQUE (book_id, tag_id))""",
    "CREATE INDEX peer_books_tags_tag_id ON peer_books_tags (tag_id)",
    f"CREATE TABLE peer_wide (id serial PRIMARY KEY, {', '.join(WIDE_COLUMNS)})",
    """CREATE TABLE peer_sink (
        id serial PRIMARY KEY, title varchar(200) NOT NULL, pages integer NOT NULL,
        price double precision NOT NULL)""",
    """CREATE TABLE peer_trash (
        id serial PRIMARY KEY, title varchar(200) NOT NULL, pages integer NOT NULL)""",
    "INSERT INTO peer_authors (name) SELECT 'author-' || g FROM generate_series(1, 1000) g",
    "INSERT INTO peer_tags (name) SELECT 'tag-' || g FROM generate_series(1, 20) g",
    """INSERT INTO peer_books (title, author_id, pages, price, published)
        SELECT 'book-' || g, (g - 1) % 1000 + 1, g % 700 + 50, g / 7.0,
               date '2000-01-01' + g % 9000
        FROM generate_series(1, 10000) g""",
    """INSERT INTO peer_books_tags (book_id, tag_id)
        SELECT b, (b + j * 7) % 20 + 1 FROM generate_series(1, 10000) b, generate_series(0, 2) j""",
    f"""INSERT INTO peer_wide ({", ".join(c.split()[0] for c in WIDE_COLUMNS)})
        SELECT {", ".join(WIDE_VALUES)} FROM generate_series(1, 10000) g""",
    "ANALYZE",
]


def portable_schema() -> sa.MetaData:
    """The tables of :data:`SCHEMA` for MariaDB and SQLite (same columns, keys and indexes)."""
    meta = sa.MetaData()
    pk = {"primary_key": True, "autoincrement": True}

    def cascade(target: str) -> sa.ForeignKey:
        return sa.ForeignKey(target, ondelete="CASCADE")

    sa.Table(
        "peer_authors",
        meta,
        sa.Column("id", sa.Integer, **pk),
        sa.Column("name", sa.String(100), nullable=False),
    )
    sa.Table(
        "peer_tags",
        meta,
        sa.Column("id", sa.Integer, **pk),
        sa.Column("name", sa.String(50), nullable=False),
    )
    sa.Table(
        "peer_books",
        meta,
        sa.Column("id", sa.Integer, **pk),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("author_id", sa.Integer, cascade("peer_authors.id"), nullable=False, index=True),
        sa.Column("pages", sa.Integer, nullable=False),
        sa.Column("price", sa.Double, nullable=False),
        sa.Column("published", sa.Date, nullable=False),
    )
    sa.Table(
        "peer_books_tags",
        meta,
        sa.Column("id", sa.Integer, **pk),
        sa.Column("book_id", sa.Integer, cascade("peer_books.id"), nullable=False),
        sa.Column("tag_id", sa.Integer, cascade("peer_tags.id"), nullable=False, index=True),
        sa.UniqueConstraint("book_id", "tag_id"),
    )
    sa.Table(
        "peer_wide",
        meta,
        sa.Column("id", sa.Integer, **pk),
        *(sa.Column(f"i{k:02}", sa.Integer, nullable=False) for k in range(1, 11)),
        *(sa.Column(f"s{k:02}", sa.String(50), nullable=False) for k in range(1, 11)),
        *(sa.Column(f"f{k:02}", sa.Double, nullable=False) for k in range(1, 10)),
    )
    sa.Table(
        "peer_sink",
        meta,
        sa.Column("id", sa.Integer, **pk),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("pages", sa.Integer, nullable=False),
        sa.Column("price", sa.Double, nullable=False),
    )
    sa.Table(
        "peer_trash",
        meta,
        sa.Column("id", sa.Integer, **pk),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("pages", sa.Integer, nullable=False),
    )
    return meta


EPOCH = dt.date(2000, 1, 1)


def portable_rows() -> dict[str, list[dict[str, Any]]]:
    """Every table's rows, equal to what :data:`SCHEMA`'s INSERTs generate on PostgreSQL."""
    g = range(1, 10_001)
    wide = []
    for n in g:
        row: dict[str, Any] = {"id": n}
        row.update({f"i{k:02}": n * k % 1000 for k in range(1, 11)})
        row.update({f"s{k:02}": f"s{k}-{n}" for k in range(1, 11)})
        row.update({f"f{k:02}": n / k for k in range(1, 10)})
        wide.append(row)
    return {
        "peer_authors": [{"id": n, "name": f"author-{n}"} for n in range(1, 1001)],
        "peer_tags": [{"id": n, "name": f"tag-{n}"} for n in range(1, 21)],
        "peer_books": [
            {
                "id": n,
                "title": f"book-{n}",
                "author_id": (n - 1) % 1000 + 1,
                "pages": n % 700 + 50,
                "price": n / 7.0,
                "published": EPOCH + dt.timedelta(days=n % 9000),
            }
            for n in g
        ],
        "peer_books_tags": [
            {"id": 3 * (b - 1) + j + 1, "book_id": b, "tag_id": (b + j * 7) % 20 + 1}
            for b in g
            for j in range(3)
        ],
        "peer_wide": wide,
    }


def trash_rows(count: int) -> list[dict[str, Any]]:
    """``peer_trash``'s rows before a delete batch: ids 1..count."""
    return [{"id": n, "title": f"gone-{n}", "pages": n % 100} for n in range(1, count + 1)]


async def create_schema(conn: asyncpg.Connection) -> None:
    """The tables and data on PostgreSQL (also used by ``bench_peers_profile``)."""
    await drop_schema(conn)
    for statement in SCHEMA:
        await conn.execute(statement)


async def drop_schema(conn: asyncpg.Connection) -> None:
    await conn.execute(f"DROP TABLE IF EXISTS {', '.join(TABLES)} CASCADE")


def before_hooks(conn: asyncpg.Connection) -> dict[str, Callable[[int], Awaitable[None]]]:
    """The untimed hooks on PostgreSQL: ``truncate_sink``; ``refill_trash(n)``: n x 1,000 rows."""

    async def truncate_sink(n: int) -> None:
        await conn.execute("TRUNCATE peer_sink")

    async def refill_trash(n: int) -> None:
        await conn.execute("TRUNCATE peer_trash")
        await conn.execute(
            "INSERT INTO peer_trash (id, title, pages) "
            f"SELECT g, 'gone-' || g, g % 100 FROM generate_series(1, {n * 1000}) g"
        )

    return {"truncate_sink": truncate_sink, "refill_trash": refill_trash}


class Schema:
    """The ``peer_*`` tables on one backend: create, refill between batches, drop."""

    def __init__(self, backend: str, url: str) -> None:
        self.backend = backend
        self.url = url
        self.server = ""
        self._pg: asyncpg.Connection | None = None
        self._db: Database | None = None
        self._meta = portable_schema()

    async def create(self) -> None:
        if self.backend == "postgresql":
            # A lock left by a worker fails the untimed hooks (TRUNCATE) instead of hanging.
            self._pg = conn = await asyncpg.connect(
                self.url, server_settings={"lock_timeout": f"{LOCK_TIMEOUT * 1000:.0f}"}
            )
            version = str(await conn.fetchval("SHOW server_version")).split()[0]
            self.server = f"PostgreSQL {version} (local)"
            await create_schema(conn)
            return
        self._db = db = Database(self.url, min_size=1, max_size=1)
        await db.connect()
        if self.backend == "mysql":
            for setting in ("lock_wait_timeout", "innodb_lock_wait_timeout"):
                await db.execute(f"SET SESSION {setting} = {LOCK_TIMEOUT:.0f}")
            version = await db.fetch_val("SELECT version()")
            self.server = f"MariaDB {str(version).split('-')[0]} (local)"
        else:
            self.server = f"SQLite {sqlite3.sqlite_version} (a file in WAL mode)"
        await self._drop_portable(db)
        for table in self._meta.sorted_tables:
            await db.execute(sa.schema.CreateTable(table))
        for name, rows in portable_rows().items():
            await db.execute_many(sa.insert(self._meta.tables[name]), rows)
        tables = ", ".join(TABLES)
        await db.execute(f"ANALYZE TABLE {tables}" if self.backend == "mysql" else "ANALYZE")

    def hooks(self) -> dict[str, Callable[[int], Awaitable[None]]]:
        """``truncate_sink`` and ``refill_trash(n)``: ``n`` x 1,000 rows in ``peer_trash``."""
        if self._pg is not None:
            return before_hooks(self._pg)
        return {"truncate_sink": self.truncate_sink, "refill_trash": self.refill_trash}

    async def truncate_sink(self, n: int) -> None:
        await self._empty("peer_sink")

    async def refill_trash(self, n: int) -> None:
        assert self._db is not None
        await self._empty("peer_trash")
        await self._db.execute_many(
            sa.insert(self._meta.tables["peer_trash"]), trash_rows(n * 1000)
        )

    async def _empty(self, table: str) -> None:
        assert self._db is not None
        if self.backend == "mysql":
            await self._db.execute(f"TRUNCATE {table}")
        else:
            await self._db.execute(f"DELETE FROM {table}")

    async def drop(self) -> None:
        if self._pg is not None:
            await drop_schema(self._pg)
            await self._pg.close()
        if self._db is not None:
            await self._drop_portable(self._db)
            await self._db.disconnect()

    async def _drop_portable(self, db: Database) -> None:
        for table in reversed(self._meta.sorted_tables):
            await db.execute(sa.schema.DropTable(table, if_exists=True))


# -- the workers ------------------------------------------------------------------------------


class WorkerFailed(RuntimeError):
    """A worker answered an error, timed out or exited; the message names which and why."""


class HookFailed(RuntimeError):
    """An untimed step between batches (emptying or refilling a table) failed."""


@dataclass
class Worker:
    """A running worker process: ask it to run batches, one JSON line each way.

    ``dead`` says why the worker is gone (exited, or killed after a hung batch); a dead worker
    answers nothing more and its contenders are left out of later workloads.
    """

    peer: Peer
    process: asyncio.subprocess.Process
    contenders: dict[str, dict[str, str]] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    dead: str | None = None

    async def ask(self, wait: float | None = None, **msg: Any) -> dict[str, Any]:
        if self.dead is not None:
            raise WorkerFailed(f"worker {self.peer.name} is gone: {self.dead}")
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(json.dumps(msg).encode() + b"\n")
            await self.process.stdin.drain()
            line = await asyncio.wait_for(self.process.stdout.readline(), wait)
        except TimeoutError:
            await self.kill(f"no answer within {wait:.0f} s (killed)")
            raise WorkerFailed(f"worker {self.peer.name}: {self.dead}") from None
        except (BrokenPipeError, ConnectionResetError) as exc:
            await self.kill(f"pipe closed ({exc})")
            raise WorkerFailed(f"worker {self.peer.name}: {self.dead}") from None
        if not line:
            await self.kill(f"exited with status {await self.process.wait()}")
            raise WorkerFailed(f"worker {self.peer.name} {self.dead}")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise WorkerFailed(reply["error"])
        return reply

    async def kill(self, why: str) -> None:
        self.dead = why
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    async def close(self) -> None:
        if self.process.returncode is None and self.dead is None:
            try:
                await self.ask(cmd="quit", wait=30)
                await asyncio.wait_for(self.process.wait(), 30)
            except Exception:  # WorkerFailed and TimeoutError included
                await self.kill("did not quit")
        elif self.process.returncode is None:
            await self.kill(self.dead or "closed")


async def start_worker(peer: Peer, dsn: str) -> Worker | str:
    """A worker that said hello, or why it could not start."""
    if not peer.path.exists():
        return f"{peer.name}: no worker {peer.path.relative_to(ROOT)}"
    if not peer.python.exists():
        return f"{peer.name}: no {peer.python.relative_to(ROOT)} (run `make bench-peers`)"
    process = await asyncio.create_subprocess_exec(
        str(peer.python),
        str(peer.path),
        dsn,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=ROOT,
        limit=2**22,
    )
    worker = Worker(peer, process)
    try:
        hello = await worker.ask(cmd="hello", wait=120)
    except Exception as exc:
        await worker.close()
        return f"{peer.name}: failed to start ({last_line(exc)})"
    worker.contenders = hello["contenders"]
    worker.versions = hello["versions"]
    return worker


def last_line(exc: BaseException) -> str:
    """The line of an error that names its cause: a worker's traceback ends with it (but for
    SQLAlchemy's "(Background on this error at: ...)" link line and SQL echo lines)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    noise = ("(Background on this error", "[SQL:", "[parameters:")
    causes = [line for line in lines if not line.startswith(noise)]
    return (causes or lines or [type(exc).__name__])[-1]


@dataclass
class Contender:
    """One library's way of doing one workload: a label in one worker."""

    worker: Worker
    label: str
    column: str


async def measure(
    workload: Workload,
    contenders: Sequence[Contender],
    rounds: int,
    before: Callable[[int], Awaitable[None]] | None,
    failed: list[str],
) -> dict[str, Measurement]:
    """Interleaved rounds as in :func:`benchmarks.harness.measure`, timed by the workers.

    A contender whose batch fails (warm-up or any round), or whose worker does not answer, is
    left out of the workload, the last line of its error appended to ``failed``.
    """
    results = {c.label: Measurement(c.label) for c in contenders}
    alive = list(contenders)

    async def batch(c: Contender, n: int) -> dict[str, Any] | None:
        if before is not None:
            try:
                await before(n)
            except Exception as exc:
                raise HookFailed(f"before {c.label}'s batch: {last_line(exc)}") from exc
        try:
            return await c.worker.ask(
                wait=BATCH_TIMEOUT + KILL_GRACE,
                cmd="run",
                workload=workload.op,
                contender=c.label,
                n=n,
                concurrency=workload.concurrency,
                burst=workload.burst,
                timeout=BATCH_TIMEOUT,
            )
        except WorkerFailed as exc:  # that library cannot do this workload: say so, go on
            failed.append(f"{c.label}: {last_line(exc)}")
            alive.remove(c)
            del results[c.label]
            return None

    warmup = workload.n if workload.burst else max(workload.concurrency, workload.n // 10)
    for c in list(alive):
        await batch(c, warmup)
    for worker in {id(c.worker): c.worker for c in alive}.values():
        await worker.ask(cmd="freeze", wait=60)
    for r in range(rounds):
        order = list(alive)
        shift = r % max(1, len(order))
        for c in [*order[shift:], *order[:shift]]:
            reply = await batch(c, workload.n)
            if reply is None:
                continue
            m = results[c.label]
            m.wall.append(reply["wall"] / workload.n)
            m.cpu.append(reply["cpu"] / workload.n)
            if reply["latencies"]:
                m.latencies.extend(reply["latencies"])
    return results


# -- targets ----------------------------------------------------------------------------------


def _targets(w: Workload, contenders: Sequence[Contender], backend: str) -> list[Target]:
    """The issue's targets that apply to ``w`` among the contenders present.

    They are stated for PostgreSQL (binding there) except the SQLite one (ORM get within 2x of
    aiosqlite, binding on SQLite at one task); elsewhere the same ratios are information.
    """
    labels = [c.label for c in contenders]
    ours = next((c.label for c in contenders if c.column == OURS), None)
    raw = next((c.label for c in contenders if c.column == RAW), None)
    if ours is None:
        return []
    binding = backend == "postgresql"
    tasks = "10 tasks" if w.concurrency > 1 else "1 task"
    out: list[Target] = []

    def add(
        label: str, baseline: str, limit: float, kind: Kind = "time", subject: str = ""
    ) -> None:
        text = label if binding else f"{LABELS[backend]}, info: {label}"
        out.append(Target(text, subject or ours, baseline, limit, kind, informative=not binding))

    base = w.name.removesuffix("_c10")
    if base in ("get", "filter20"):
        what = f"{'get' if base == 'get' else 'filter-20'} ({tasks})"
        if TORTOISE in labels:
            add(f"ORM {what} vs Tortoise", TORTOISE, 1.5, "throughput")
        if SA_ORM in labels:
            add(f"ORM {what} vs SQLAlchemy ORM", SA_ORM, 2.0, "throughput")
        if raw is not None:
            add(f"ORM {what} vs raw {raw}", raw, 1.5)
        if backend == "sqlite" and base == "get" and raw is not None:
            one = w.concurrency == 1
            label = f"SQLite ORM get ({tasks}) vs raw aiosqlite (1 hop)"
            out.append(
                Target(
                    label if one else f"SQLite, info: {label}", ours, raw, 2.0, informative=not one
                )
            )
    elif base == "filter1000" and TORTOISE in labels:
        add(f"ORM 1,000 models ({tasks}) vs Tortoise", TORTOISE, 1.5, "throughput")
    elif base == "filter1000_rows" and raw is not None:
        vl = f"{OURS} values_list()"
        if vl in labels:
            add(f"ORM values_list 1,000 ({tasks}) vs raw {raw}", raw, 1.3, subject=vl)
    elif base == "bulk_create":
        raws = [c.label for c in contenders if c.column == RAW]
        many = next((label for label in raws if "executemany" in label), None)
        if many is not None:
            add(f"bulk_create ({tasks}) vs raw executemany", many, 0.8, "throughput")
        for c in contenders:
            if c.column not in (OURS, RAW):
                add(f"bulk_create ({tasks}) vs {c.label}", c.label, 1.0, "throughput")
    elif base == "gateway":
        holding = f"{OURS} holding (db.connection())"
        if holding in labels:
            add("gateway vs holding", holding, 10.0, "throughput")
        for label in labels:
            if label.startswith(TORTOISE):
                add("gateway vs Tortoise", label, 1.5, "throughput")
    return out


# -- the report -------------------------------------------------------------------------------


@dataclass
class Outcome:
    backend: str
    title: str
    results: dict[str, Measurement]
    columns: dict[str, str]  # label -> summary column


def summary_table(outcomes: Sequence[Outcome]) -> tuple[str, list[dict[str, Any]]]:
    """Ops/s per library and workload, with our ratio to each (paired, same rounds).

    The first contender of a column in a workload stands for it (e.g. the raw driver's
    ``executemany`` for bulk_create). Returns the Markdown table and the chart's rows.
    """
    present = [c for c in COLUMNS if any(c in o.columns.values() for o in outcomes)]
    header = ["workload", *("raw driver" if c == RAW else c for c in present)]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    data = []
    for o in outcomes:
        first: dict[str, Measurement] = {}
        for label, column in o.columns.items():
            if label in o.results:
                first.setdefault(column, o.results[label])
        ours = first.get(OURS)
        cells = [o.title]
        row: dict[str, Any] = {"backend": o.backend, "workload": o.title, "ops": {}, "ratio": {}}
        for column in present:
            m = first.get(column)
            if m is None:
                cells.append("-")
                continue
            ops = m.ops_per_s
            row["ops"][column] = ops
            if ours is None or m is ours:
                cells.append(f"{_ops(ops)}")
                continue
            ratio = 1 / paired_ratio(ours, m)[0]
            row["ratio"][column] = ratio
            cells.append(f"{_ops(ops)} (**{ratio:.2f}x**)")
        lines.append("| " + " | ".join(cells) + " |")
        data.append(row)
    return "\n".join(lines) + "\n", data


def _ops(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:,.1f}"


def summaries(outcomes: Sequence[Outcome]) -> tuple[str, list[dict[str, Any]]]:
    """One summary table per backend (Markdown sections) and the chart's rows."""
    text, rows = [], []
    for backend in BACKENDS:
        mine = [o for o in outcomes if o.backend == backend]
        if not mine:
            continue
        table, data = summary_table(mine)
        raw = RAW_DRIVER[backend]
        text.append(
            f"### Summary, {LABELS[backend]}: operations/s (our ratio)\n\n"
            f"Raw driver: {raw}. **Bold**: asyncdb orm's throughput divided by that "
            "library's in the same rounds (above 1: we are faster).\n\n" + table
        )
        rows += data
    return "\n".join(text), rows


def machine_line(workers: Sequence[Worker], servers: Sequence[str]) -> str:
    """When, on what, against which servers, with which library versions."""
    versions: dict[str, str] = {}
    for w in workers:
        versions.update(w.versions)
    python = versions.pop("python", platform.python_version())
    listed = ", ".join(
        f"{k} {v}" for k, v in sorted(versions.items(), key=lambda kv: kv[0].lower())
    )
    return (
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()}-core "
        f"{platform.machine()} {platform.system()} VM, Python {python}; "
        f"{', '.join(servers) or 'no database'}. Versions: {listed}."
    )


def _header(machine: str, rounds: int, load: str, notes: Sequence[str]) -> str:
    text = (
        "# asyncdb orm against other libraries (`make bench-peers`)\n\n"
        f"{machine} Load average at start {load}.\n\n"
        f"{rounds} interleaved rounds per workload (bulk_create and the gateway: "
        f"{min(rounds, 5)}); every library in its own worker process and virtual environment, "
        "timed by the worker itself; times are medians over rounds; spread = ± half the "
        "interquartile range; ratios are medians of per-round ratios (range in brackets); CPU = "
        "the worker process's CPU time per operation. Same tables (`peer_*`), same data, same "
        "queries for everyone on every backend; every library with a pool of 10 connections; "
        "every workload but the gateway at 1 task and at 10 concurrent tasks. In the summaries, "
        "**bold** is asyncdb orm's throughput divided by that library's (above 1: we are "
        "faster).\n"
    )
    if notes:
        text += "\nNot measured: " + "; ".join(notes) + ".\n"
    return text


def verdicts(report: Report) -> str:
    """The binding targets (with a count met), then the same ratios elsewhere, as information."""
    lines = ["### Targets (issue 7)", "", "| target | goal | measured | verdict |"]
    lines.append("| --- | --- | --- | --- |")
    lines += [_verdict_row(*v) for v in report.verdicts]
    met = sum(1 for *_, ok in report.verdicts if ok)
    lines.append(f"\n{met} of {len(report.verdicts)} met.")
    if report.infos:
        lines += [
            "",
            "The same ratios on the other backends (information: the targets are stated for "
            "PostgreSQL):",
            "",
            "| ratio | goal | measured | |",
            "| --- | --- | --- | --- |",
        ]
        lines += [_verdict_row(*v, info=True) for v in report.infos]
    return "\n".join(lines) + "\n"


def _verdict_row(label: str, goal: str, value: float, met: bool, info: bool = False) -> str:
    shown = f"{value:.0f} ms" if goal.endswith("ms") else f"{value:.2f}x"
    verdict = ("met" if met else "missed") if info else ("**met**" if met else "**MISSED**")
    return f"| {label} | {goal} | {shown} | {verdict} |"


def splice_docs(page: str, block: str) -> str:
    """``page`` with ``block`` between the bench-peers markers, the rest untouched.

    Without the markers, they are appended (with ``block``) at the end of the page.
    """
    inner = f"{DOCS_BEGIN}\n{block.strip()}\n{DOCS_END}"
    start, end = page.find(DOCS_BEGIN), page.find(DOCS_END)
    if start == -1 or end == -1 or end < start:
        return page.rstrip("\n") + "\n\n" + inner + "\n"
    return page[:start] + inner + page[end + len(DOCS_END) :]


def docs_block(machine: str, summary: str, targets: str, rounds: int) -> str:
    """What ``--docs`` writes into ``docs/performance.md``."""
    return (
        "## The latest `make bench-peers` run\n\n"
        "Written by `python -m benchmarks.bench_peers --docs` (do not edit by hand; the full "
        "report with every table is `benchmarks/results/peers.md`, the chart "
        f"`benchmarks/results/peers.png`). {machine} {rounds} interleaved rounds a workload "
        f"(bulk_create and the gateway: {min(rounds, 5)}).\n\n"
        + summary.replace("### ", "#### ")
        + "\n"
        + targets.replace("### ", "#### ")
    )


def write_chart(data: list[dict[str, Any]], png: Path) -> str:
    """Draw the chart with the tools venv's matplotlib; a note when that is not there."""
    python = VENVS / "tools" / "bin" / "python"
    if not python.exists():
        return "no chart: .venv-peers/tools is missing (run `make bench-peers`)"
    source = png.with_suffix(".json")
    labels = {b: LABELS[b] for b in BACKENDS}
    source.write_text(
        json.dumps({"columns": list(COLUMNS), "backends": labels, "rows": data}, indent=1)
    )
    done = subprocess.run(
        [str(python), str(PEERS_DIR / "chart.py"), str(source), str(png)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        return f"no chart: {last_line(RuntimeError(done.stderr))}"
    return f"chart: {png.relative_to(ROOT) if png.is_relative_to(ROOT) else png}"


# -- main ---------------------------------------------------------------------------------------


def selected(backend: str, only: Sequence[str]) -> list[Workload]:
    """The workloads of ``backend`` whose ``'<backend> <name>'`` contains one of ``only``."""
    return [w for w in WORKLOADS if not only or any(word in f"{backend} {w.name}" for word in only)]


def quick(w: Workload) -> Workload:
    """``--quick``: a quarter of the operations a batch (at least one per task)."""
    return w if w.burst else replace(w, n=max(w.concurrency, w.n // 4))


@dataclass
class Run:
    """What the backends of one run share: the report, the outcomes, what the workers said."""

    args: argparse.Namespace
    rounds: int
    report: Report = field(default_factory=lambda: Report())
    outcomes: list[Outcome] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)
    servers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


async def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    state = Run(args, args.rounds or (5 if args.quick else 9))
    report = state.report
    for backend in [b for b in BACKENDS if not args.backend or b in args.backend]:
        with tempfile.TemporaryDirectory(prefix="bench_peers_") as tmp:
            url = {
                "postgresql": postgres_dsn(),
                "mysql": mysql_url(),
                "sqlite": f"sqlite:///{Path(tmp) / 'peers.db'}",
            }[backend]
            await run_backend(backend, url, state)
    machine = machine_line(state.workers, state.servers)
    header = _header(machine, state.rounds, load, sorted(set(state.notes)))
    report.sections.insert(0, header)
    print(header, flush=True)
    summary, data = summaries(state.outcomes)
    targets = verdicts(report)
    report.add("## Summary\n\n" + summary + "\n" + targets)
    output = args.output or RESULTS / "peers.md"
    output.parent.mkdir(parents=True, exist_ok=True)
    png = output.with_suffix(".png")
    chart = write_chart(data, png) if not args.no_chart else "no chart"
    report.add(f"({chart}; total {time.perf_counter() - started:.0f} s)\n")
    output.write_text("\n".join(report.sections))
    if args.docs:
        block = docs_block(machine, summary, targets, state.rounds)
        DOCS.write_text(splice_docs(DOCS.read_text(), block))
        print(f"wrote the summary into {DOCS.relative_to(ROOT)}", flush=True)
    return 1 if args.strict and not report.all_met else 0


async def run_backend(backend: str, url: str, state: Run) -> None:
    """Every selected workload of ``backend``: schema, workers, tables, cleanup."""
    report, label = state.report, LABELS[backend]
    workloads = selected(backend, state.args.only)
    if not workloads:
        return
    schema = Schema(backend, url)
    try:
        await schema.create()
    except Exception as exc:  # no server: say so and go on with the other backends
        report.add(f"## {label}\n\nskipped: cannot set up the tables ({last_line(exc)})\n")
        await _quietly(schema.drop())
        return
    state.servers.append(schema.server)
    hooks = schema.hooks()
    notes: list[str] = []
    workers: list[Worker] = []
    try:
        for started in await asyncio.gather(*(start_worker(p, url) for p in PEERS)):
            if isinstance(started, str):
                notes.append(started)
            else:
                workers.append(started)
        state.workers += workers
        state.notes += notes
        report.add(_backend_intro(backend, schema.server, notes))
        for w in workloads:
            await run_workload(backend, w, workers, hooks, state)
    finally:
        await asyncio.gather(*(w.close() for w in workers))
        await schema.drop()


def _backend_intro(backend: str, server: str, notes: Sequence[str]) -> str:
    text = (
        f"## {LABELS[backend]}\n\n{server}; raw driver {RAW_DRIVER[backend]}; every library "
        "through its own driver for this backend."
    )
    if backend == "sqlite":
        text += (
            " asyncdb and the raw baseline open their connections with `synchronous = NORMAL` "
            "(asyncdb's setting for files in WAL mode); the peers keep their own connection "
            "settings (SQLite's default is `FULL`: a sync at every commit), which weighs on "
            "their writes."
        )
    return text + "".join(f" Not measured: {note}." for note in notes) + "\n"


async def run_workload(
    backend: str,
    w: Workload,
    workers: Sequence[Worker],
    hooks: dict[str, Callable[[int], Awaitable[None]]],
    state: Run,
) -> None:
    """Measure ``w`` on ``backend`` with every live worker's contenders; add its table."""
    report = state.report
    title = f"{LABELS[backend]}: {w.title}"
    gone = [f"{worker.peer.name} ({worker.dead})" for worker in workers if worker.dead]
    contenders = [
        Contender(worker, label, column)
        for worker in workers
        if worker.dead is None
        for label, column in worker.contenders.get(w.op, {}).items()
    ]
    if not contenders:
        return
    if state.args.quick:
        w = quick(w)
    t0 = time.perf_counter()
    failed: list[str] = [f"worker {g}" for g in gone]
    try:
        results = await measure(
            w,
            contenders,
            min(state.rounds, w.rounds or state.rounds),
            hooks[w.before] if w.before else None,
            failed,
        )
    except HookFailed as exc:  # the tables are not as the workload needs them: say so, go on
        report.add(f"### {title}\n\nNot measured: {exc}.\n")
        return
    contenders = [c for c in contenders if c.label in results]
    if not contenders:
        report.add(f"### {title}\n\nEvery contender failed: {'; '.join(failed)}.\n")
        return
    ours = next((c.label for c in contenders if c.column == OURS), contenders[0].label)
    baseline = next((c.label for c in contenders if c.column == RAW), ours)
    report.table(
        title,
        f"{w.what} {w.n:,} {w.unit}s per batch"
        + (f", {w.concurrency} concurrent tasks" if w.concurrency > 1 else "")
        + f" ({time.perf_counter() - t0:.0f} s)."
        + "".join(f" Left out: {note}." for note in failed),
        results,
        baseline=baseline,
        unit=w.unit,
        items_per_op=w.items_per_op,
        targets=_targets(w, contenders, backend),
        throughput_ratio=w.burst,
    )
    if w.burst and ours in results and results[ours].latencies:
        p99 = percentile(results[ours].latencies, 99) * 1e3
        verdict = (f"gateway p99 ({p99:.0f} ms)", "< 100 ms", p99, p99 < 100)
        if backend == "postgresql":
            report.verdicts.append(verdict)
        else:
            report.infos.append((f"{LABELS[backend]}, info: {verdict[0]}", *verdict[1:]))
    state.outcomes.append(
        Outcome(backend, w.title, results, {c.label: c.column for c in contenders})
    )


async def _quietly(step: Awaitable[None]) -> None:
    try:
        await step
    except Exception:  # cleaning up after a failed setup: the setup's error is the news
        return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_peers", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="5 rounds, smaller batches")
    parser.add_argument("--rounds", type=int, help="rounds per workload (default 9, at least 5)")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="WORD",
        help="workloads whose '<backend> <name>' contains WORD (e.g. get, c10, sqlite); repeatable",
    )
    parser.add_argument(
        "--backend", action="append", choices=BACKENDS, help="only these backends (repeatable)"
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="the report (default benchmarks/results/peers.md); the chart's .png and .json "
        "are written beside it",
    )
    parser.add_argument("--no-chart", action="store_true")
    parser.add_argument(
        "--docs",
        action="store_true",
        help="also write the summaries, targets and versions into docs/performance.md "
        f"between {DOCS_BEGIN} and {DOCS_END}",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.rounds is not None:
        args.rounds = max(5, args.rounds)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
