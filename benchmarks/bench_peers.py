"""``make bench-peers``: the ORM against raw asyncpg and the peer libraries, side by side (issue 7).

Every library runs in a worker process (``benchmarks/peers/<peer>_worker.py``) under its own
virtual environment (``.venv-peers/<peer>/``, made by the Makefile from the pinned
``benchmarks/peers/requirements-<peer>.txt``; they pin conflicting dependencies). Ours, raw
asyncpg and SQLAlchemy run under the project's venv, in worker processes too, so every
contender runs under the same conditions: its own process and event loop, a garbage collection
before each batch, the heap frozen after the warm-up.

This process creates the ``peer_*`` tables and their data once (every worker maps its models
onto them), then for every workload runs interleaved rounds: in each round every contender's
worker runs one batch and reports its own wall and CPU time (the pipe is not in the figures),
in an order rotated from round to round. Tables and targets come from
:mod:`benchmarks.harness`; the report goes to ``benchmarks/results/peers.md``, a bar chart to
``benchmarks/results/peers.png`` (drawn by ``.venv-peers/tools``, which has matplotlib).

    .venv/bin/python -m benchmarks.bench_peers [--quick] [--only WORD] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import sqlalchemy as sa

from asyncdb import Database

from .bench_asyncdb import postgres_dsn
from .common import mysql_url
from .harness import Measurement, Report, Target, paired_ratio, percentile

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent
PEERS_DIR = Path(__file__).resolve().parent / "peers"
RESULTS = Path(__file__).resolve().parent / "results"
VENVS = ROOT / ".venv-peers"

OURS = "asyncdb orm"
RAW = "asyncpg"
SA_ORM = "SQLAlchemy ORM"
SA_CORE = "SQLAlchemy Core"
TORTOISE = "Tortoise ORM"
ORMAR = "ormar"
DATABASES = "databases"
ENCODE_ORM = "encode/orm"
#: Summary columns, in order (a worker's contenders name their column).
COLUMNS = (OURS, RAW, SA_CORE, SA_ORM, TORTOISE, ORMAR, DATABASES, ENCODE_ORM)


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
    Peer("asyncpg", Path(sys.executable), "raw_worker.py"),
    Peer("sqlalchemy", Path(sys.executable), "sqlalchemy_worker.py"),
    Peer("tortoise", VENVS / "tortoise" / "bin" / "python", "tortoise_worker.py"),
    Peer("ormar", VENVS / "ormar" / "bin" / "python", "ormar_worker.py"),
    Peer("encode", VENVS / "encode" / "bin" / "python", "encode_worker.py"),
)


BACKENDS = ("postgresql", "sqlite", "mysql")
LABELS = {"postgresql": "PostgreSQL", "sqlite": "SQLite", "mysql": "MariaDB"}


@dataclass(frozen=True)
class Workload:
    """One table of the report: a worker operation at some batch size and concurrency."""

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
    backends: tuple[str, ...] = ("postgresql",)


WORKLOADS = (
    Workload(
        "get", "get", "get by primary key, 1 task", "A book (6 columns) by key.", 200, "get",
        backends=BACKENDS,
    ),
    Workload(
        "get_c10", "get", "get by primary key, 10 tasks",
        "The same gets shared by 10 concurrent tasks, pool of 10.", 400, "get", concurrency=10,
    ),
    Workload(
        "filter20", "filter20_models", "filter, 20 rows as models, 1 task",
        "`filter(id > x).order_by(id)[:20]` hydrated as model instances (raw: Records).",
        100, "call", 20, backends=BACKENDS,
    ),
    Workload(
        "filter20_c10", "filter20_models", "filter, 20 rows as models, 10 tasks",
        "The same filters shared by 10 concurrent tasks, pool of 10.", 200, "call", 20,
        concurrency=10,
    ),
    Workload(
        "filter20_rows", "filter20_rows", "filter, 20 rows as dicts/tuples, 1 task",
        "The same query returning plain rows: `values()`/`values_list()`, Core rows, Records.",
        100, "call", 20,
    ),
    Workload(
        "filter1000", "filter1000_models", "filter, 1,000 rows as models",
        "`filter(id > x).order_by(id)[:1000]` hydrated as model instances (raw: Records).",
        2, "call", 1000,
    ),
    Workload(
        "filter1000_rows", "filter1000_rows", "filter, 1,000 rows as dicts/tuples",
        "The same query returning plain rows.", 2, "call", 1000,
    ),
    Workload(
        "wide1000", "wide1000_models", "1,000 rows of the 30-column model",
        "`filter(id > x).order_by(id)[:1000]` on `peer_wide` (10 int, 10 varchar, 9 float).",
        1, "call", 1000,
    ),
    Workload(
        "select_related", "select_related", "select_related, 500 books with their author",
        "One JOIN; every book gets its author object.", 3, "call", 500,
    ),
    Workload(
        "prefetch", "prefetch", "prefetch_related, 100 authors x 10 books",
        "Two queries (authors, then their books), books attached to their authors.",
        3, "call", 1100,
    ),
    Workload(
        "prefetch_m2m", "prefetch_m2m", "prefetch_related, 100 books x 3 tags (many-to-many)",
        "Two queries through the link table `peer_books_tags`.", 5, "call", 400,
    ),
    Workload(
        "insert", "insert", "single inserts", "One row per call into `peer_sink`, key returned.",
        100, "insert", before="truncate_sink",
    ),
    Workload(
        "bulk_create", "bulk_create", "bulk_create of 10,000 rows, keys returned",
        "Objects built from the same 10,000 tuples inside the timed call, then one bulk call; "
        "`peer_sink` emptied before every batch (untimed).",
        1, "call", 10_000, rounds=5, before="truncate_sink",
    ),
    Workload(
        "update", "update", "update of 1,000 rows",
        "`filter(1000 < id <= 2000).update(pages=constant)` (a constant: not every peer has F()).",
        3, "call", 1000,
    ),
    Workload(
        "delete", "delete", "delete of 1,000 rows",
        "`filter(range).delete()` on `peer_trash`, refilled before every batch (untimed).",
        3, "call", 1000, before="refill_trash",
    ),
    Workload(
        "transaction", "transaction", "a 3-statement transaction",
        "BEGIN; get a book; insert a row; update the book; COMMIT.", 50, "tx",
        before="truncate_sink",
    ),
    Workload(
        "gateway", "gateway", "gateway: 500 concurrent requests, pool of 10",
        "500 tasks at once, pool of 10; each request gets a book by key with the library's "
        "idiomatic per-request pattern, then awaits `asyncio.sleep(0.02)` (other I/O). Latency: "
        "task start to finish, including the wait for a connection.",
        500, "req", burst=True, rounds=5,
    ),
)  # fmt: skip


# -- the schema and data, created once by our side ---------------------------------------------

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
TABLES = ("peer_books_tags", "peer_books", "peer_tags", "peer_authors", "peer_wide", "peer_sink")
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
    # 1,000 authors with 10 books each; 20 tags, 3 per book; 10,000 wide rows.
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


async def create_schema(conn: asyncpg.Connection) -> None:
    await drop_schema(conn)
    for statement in SCHEMA:
        await conn.execute(statement)


async def drop_schema(conn: asyncpg.Connection) -> None:
    await conn.execute(f"DROP TABLE IF EXISTS {', '.join(TABLES)}, peer_trash CASCADE")


def small_schema() -> tuple[sa.MetaData, list[sa.Table]]:
    """``peer_authors`` and ``peer_books`` for MariaDB and SQLite (get and filter-20 only)."""
    meta = sa.MetaData()
    authors = sa.Table(
        "peer_authors",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
    )
    books = sa.Table(
        "peer_books",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("author_id", sa.ForeignKey("peer_authors.id"), nullable=False, index=True),
        sa.Column("pages", sa.Integer, nullable=False),
        sa.Column("price", sa.Double, nullable=False),
        sa.Column("published", sa.Date, nullable=False),
    )
    return meta, [authors, books]


async def create_small_schema(url: str) -> None:
    _, tables = small_schema()
    epoch = dt.date(2000, 1, 1)
    async with Database(url) as db:
        for table in reversed(tables):
            await db.execute(sa.schema.DropTable(table, if_exists=True))
        for table in tables:
            await db.execute(sa.schema.CreateTable(table))
        authors = [{"id": g, "name": f"author-{g}"} for g in range(1, 1001)]
        await db.execute_many(sa.insert(tables[0]), authors)
        books = [
            {
                "id": g,
                "title": f"book-{g}",
                "author_id": (g - 1) % 1000 + 1,
                "pages": g % 700 + 50,
                "price": g / 7.0,
                "published": epoch + dt.timedelta(days=g % 9000),
            }
            for g in range(1, 10_001)
        ]
        await db.execute_many(sa.insert(tables[1]), books)
        analyze = {"mysql": "ANALYZE TABLE peer_authors, peer_books"}
        await db.execute(analyze.get(db.features.backend, "ANALYZE"))


async def drop_small_schema(url: str) -> None:
    _, tables = small_schema()
    async with Database(url) as db:
        for table in reversed(tables):
            await db.execute(sa.schema.DropTable(table, if_exists=True))


def before_hooks(conn: asyncpg.Connection) -> dict[str, Callable[[int], Awaitable[None]]]:
    async def truncate_sink(n: int) -> None:
        await conn.execute("TRUNCATE peer_sink")

    async def refill_trash(n: int) -> None:
        await conn.execute("TRUNCATE peer_trash")
        await conn.execute(
            "INSERT INTO peer_trash (id, title, pages) "
            f"SELECT g, 'gone-' || g, g % 100 FROM generate_series(1, {n * 1000}) g"
        )

    return {"truncate_sink": truncate_sink, "refill_trash": refill_trash}


# -- the workers ------------------------------------------------------------------------------


@dataclass
class Worker:
    """A running worker process: ask it to run batches, one JSON line each way."""

    peer: Peer
    process: asyncio.subprocess.Process
    contenders: dict[str, dict[str, str]] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    async def ask(self, **msg: Any) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(msg).encode() + b"\n")
        await self.process.stdin.drain()
        line = await self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.peer.name} exited ({await self.process.wait()})")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"worker {self.peer.name}: {reply['error']}")
        return reply

    async def close(self) -> None:
        if self.process.returncode is None:
            try:
                await asyncio.wait_for(self.ask(cmd="quit"), 30)
                await asyncio.wait_for(self.process.wait(), 30)
            except Exception:  # TimeoutError included
                self.process.kill()
                await self.process.wait()


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
        hello = await asyncio.wait_for(worker.ask(cmd="hello"), 120)
    except Exception as exc:
        await worker.close()
        return f"{peer.name}: failed to start ({exc})"
    worker.contenders = hello["contenders"]
    worker.versions = hello["versions"]
    return worker


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

    A contender whose warm-up fails is left out, its error appended to ``failed``.
    """
    results = {c.label: Measurement(c.label) for c in contenders}

    async def batch(c: Contender, n: int) -> dict[str, Any]:
        if before is not None:
            await before(n)
        return await c.worker.ask(
            cmd="run",
            workload=workload.op,
            contender=c.label,
            n=n,
            concurrency=workload.concurrency,
            burst=workload.burst,
        )

    warmup = workload.n if workload.burst else max(1, workload.n // 10)
    for c in list(contenders):
        try:
            await batch(c, warmup)
        except RuntimeError as exc:  # that library cannot do this workload: say so, go on
            failed.append(f"{c.label}: {str(exc).strip().splitlines()[-1]}")
            contenders = [other for other in contenders if other is not c]
            del results[c.label]
    for worker in {id(c.worker): c.worker for c in contenders}.values():
        await worker.ask(cmd="freeze")
    for r in range(rounds):
        shift = r % len(contenders)
        for c in [*contenders[shift:], *contenders[:shift]]:
            reply = await batch(c, workload.n)
            m = results[c.label]
            m.wall.append(reply["wall"] / workload.n)
            m.cpu.append(reply["cpu"] / workload.n)
            if reply["latencies"]:
                m.latencies.extend(reply["latencies"])
    return results


# -- targets ----------------------------------------------------------------------------------


def _targets(w: Workload, labels: Sequence[str], ours: str, backend: str) -> list[Target]:
    """The issue's targets that apply to ``w`` among the contenders present."""
    if backend == "sqlite":
        if w.name == "get" and "aiosqlite" in labels:
            return [Target("SQLite ORM get vs raw aiosqlite (1 hop)", ours, "aiosqlite", 2.0)]
        return []
    if backend != "postgresql":
        return []
    where = {"get": "1 task", "get_c10": "10 tasks", "filter20": "1 task"}
    where["filter20_c10"] = "10 tasks"
    out: list[Target] = []
    if w.name in where:
        what = f"{'get' if w.op == 'get' else 'filter-20'} ({where[w.name]})"
        if TORTOISE in labels:
            out.append(Target(f"ORM {what} vs Tortoise", ours, TORTOISE, 1.5, "throughput"))
        if SA_ORM in labels:
            out.append(Target(f"ORM {what} vs SQLAlchemy ORM", ours, SA_ORM, 2.0, "throughput"))
        if RAW in labels:
            out.append(Target(f"ORM {what} vs raw asyncpg", ours, RAW, 1.5))
    elif w.name == "filter1000" and TORTOISE in labels:
        out.append(Target("ORM 1,000 models vs Tortoise", ours, TORTOISE, 1.5, "throughput"))
    elif w.name == "filter1000_rows" and RAW in labels:
        vl = f"{OURS} values_list()"
        out.append(Target("ORM values_list 1,000 vs raw asyncpg", vl, RAW, 1.3))
    elif w.name == "bulk_create":
        raw = f"{RAW} executemany (no keys)"
        if raw in labels:
            out.append(Target("bulk_create vs raw executemany", ours, raw, 0.8, "throughput"))
        for peer in labels:
            if peer != ours and not peer.startswith(RAW):
                out.append(Target(f"bulk_create vs {peer}", ours, peer, 1.0, "throughput"))
    elif w.name == "gateway":
        holding = f"{OURS} holding (db.connection())"
        if holding in labels:
            out.append(Target("gateway vs holding", ours, holding, 10.0, "throughput"))
        for label in labels:
            if label.startswith(TORTOISE):
                out.append(Target("gateway vs Tortoise", ours, label, 1.5, "throughput"))
    return out


# -- the report -------------------------------------------------------------------------------


@dataclass
class Outcome:
    title: str
    results: dict[str, Measurement]
    columns: dict[str, str]  # label -> summary column


def summary_table(outcomes: Sequence[Outcome]) -> tuple[str, list[dict[str, Any]]]:
    """Ops/s per library and workload, with our ratio to each (paired, same rounds)."""
    present = [c for c in COLUMNS if any(c in o.columns.values() for o in outcomes)]
    header = ["workload", *("raw driver" if c == RAW else c for c in present)]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    data = []
    for o in outcomes:
        first: dict[str, Measurement] = {}
        for label, column in o.columns.items():
            first.setdefault(column, o.results[label])
        ours = first.get(OURS)
        cells = [o.title]
        row: dict[str, Any] = {"workload": o.title, "ops": {}, "ratio": {}}
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


def _header(workers: Sequence[Worker], rounds: int, notes: Sequence[str]) -> str:
    versions: dict[str, str] = {}
    for w in workers:
        versions.update(w.versions)
    python = versions.pop("python", platform.python_version())
    listed = ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    text = (
        "# asyncdb orm against other libraries (`make bench-peers`)\n\n"
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()}-core "
        f"{platform.machine()} {platform.system()} VM, Python {python}, PostgreSQL "
        f"(local); load average at start {load}. Versions: {listed}.\n\n"
        f"{rounds} interleaved rounds per workload (bulk_create and the gateway: 5); every "
        "library in its own worker process and virtual environment, timed by the worker "
        "itself; times are medians over rounds; spread = ± half the interquartile range; "
        "ratios are medians of per-round ratios (range in brackets); CPU = the worker "
        "process's CPU time per operation. Same tables (`peer_*`), same data, same queries "
        "for everyone. In the summary, **bold** is asyncdb orm's throughput divided by that "
        "library's (above 1: we are faster).\n"
    )
    if notes:
        text += "\nNot measured: " + "; ".join(notes) + ".\n"
    return text


def write_chart(data: list[dict[str, Any]], png: Path) -> str:
    """Draw the chart with the tools venv's matplotlib; a note when that is not there."""
    python = VENVS / "tools" / "bin" / "python"
    if not python.exists():
        return "no chart: .venv-peers/tools is missing (run `make bench-peers`)"
    source = RESULTS / "peers.json"
    source.write_text(json.dumps({"columns": list(COLUMNS), "rows": data}, indent=1))
    done = subprocess.run(
        [str(python), str(PEERS_DIR / "chart.py"), str(source), str(png)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        return f"no chart: {done.stderr.strip().splitlines()[-1:]}"
    return f"chart: {png.relative_to(ROOT)}"


# -- main ---------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    report = Report()
    rounds = args.rounds or (5 if args.quick else 9)
    outcomes: list[Outcome] = []
    backends = [b for b in BACKENDS if not args.backend or b in args.backend]
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="bench_peers_") as tmp:
            url = {
                "postgresql": postgres_dsn(),
                "mysql": mysql_url(),
                "sqlite": f"sqlite:///{Path(tmp) / 'peers.db'}",
            }[backend]
            await run_backend(backend, url, args, report, rounds, outcomes)
    table, data = summary_table(outcomes)
    report.add("## Summary: operations/s (our ratio)\n\n" + table)
    report.add(_verdicts(report))
    RESULTS.mkdir(exist_ok=True)
    chart = write_chart(data, RESULTS / "peers.png") if not args.no_chart else "no chart"
    report.add(f"({chart}; total {time.perf_counter() - started:.0f} s)\n")
    output = args.output or RESULTS / "peers.md"
    output.write_text("\n".join(report.sections))
    return 1 if args.strict and not report.all_met else 0


async def run_backend(
    backend: str,
    url: str,
    args: argparse.Namespace,
    report: Report,
    rounds: int,
    outcomes: list[Outcome],
) -> None:
    """Every selected workload of ``backend``: schema, workers, tables, cleanup."""
    label = LABELS[backend]
    selected = [
        w
        for w in WORKLOADS
        if backend in w.backends
        and (not args.only or any(word in f"{backend} {w.name}" for word in args.only))
    ]
    if not selected:
        return
    conn: asyncpg.Connection | None = None
    try:
        if backend == "postgresql":
            conn = await asyncpg.connect(url)
            await create_schema(conn)
        else:
            await create_small_schema(url)
    except Exception as exc:  # no server: say so and go on with the other backends
        report.add(f"## {label}\n\nskipped: cannot connect ({exc})\n")
        return
    hooks = before_hooks(conn) if conn is not None else {}
    notes: list[str] = []
    workers: list[Worker] = []
    try:
        for started_worker in await asyncio.gather(*(start_worker(p, url) for p in PEERS)):
            if isinstance(started_worker, str):
                notes.append(started_worker)
            else:
                workers.append(started_worker)
        if backend == "postgresql":
            report.add(_header(workers, rounds, notes))
        else:
            report.add(
                f"## {label}\n\nGet and filter-20 at one task, same data (1,000 authors, 10,000 "
                "books); each library through its own driver for this backend."
                + "".join(f" Not measured: {note}." for note in notes)
                + "\n"
            )
        for w in selected:
            contenders = [
                Contender(worker, label, column)
                for worker in workers
                for label, column in worker.contenders.get(w.op, {}).items()
            ]
            if not contenders:
                continue
            if args.quick:
                w = Workload(**{**w.__dict__, "n": max(1, w.n // 4) if not w.burst else w.n})
            title = w.title if backend == "postgresql" else f"{LABELS[backend]}: {w.title}"
            t0 = time.perf_counter()
            failed: list[str] = []
            try:
                results = await measure(
                    w,
                    contenders,
                    min(rounds, w.rounds or rounds),
                    hooks[w.before] if w.before else None,
                    failed,
                )
            except RuntimeError as exc:
                report.add(f"### {LABELS[backend]}: {w.title}\n\nfailed: {exc}\n")
                continue
            contenders = [c for c in contenders if c.label in results]
            labels = list(results)
            ours = next((c.label for c in contenders if c.column == OURS), labels[0])
            baseline = next((c.label for c in contenders if c.column == RAW), ours)
            report.table(
                f"{LABELS[backend]}: {w.title}",
                f"{w.what} {w.n:,} {w.unit}s per batch"
                + (f", {w.concurrency} concurrent tasks" if w.concurrency > 1 else "")
                + f" ({time.perf_counter() - t0:.0f} s)."
                + "".join(f" Left out: {note}." for note in failed),
                results,
                baseline=baseline,
                unit=w.unit,
                items_per_op=w.items_per_op,
                targets=_targets(w, labels, ours, backend),
                throughput_ratio=w.burst,
            )
            if w.burst and ours in results:
                p99 = percentile(results[ours].latencies, 99) * 1e3
                report.verdicts.append((f"gateway p99 ({p99:.0f} ms)", "< 100 ms", p99, p99 < 100))
            outcomes.append(Outcome(title, results, {c.label: c.column for c in contenders}))
    finally:
        await asyncio.gather(*(w.close() for w in workers))
        if conn is not None:
            await drop_schema(conn)
            await conn.close()
        elif backend == "mysql":
            await drop_small_schema(url)


def _verdicts(report: Report) -> str:
    lines = ["## Targets (issue 7)", "", "| target | goal | measured | verdict |"]
    lines.append("| --- | --- | --- | --- |")
    for label, goal, value, met in report.verdicts:
        shown = f"{value:.0f} ms" if goal.endswith("ms") else f"{value:.2f}x"
        lines.append(f"| {label} | {goal} | {shown} | {'**met**' if met else '**MISSED**'} |")
    met = sum(1 for *_, ok in report.verdicts if ok)
    lines.append(f"\n{met} of {len(report.verdicts)} met.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_peers", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="5 rounds, smaller batches")
    parser.add_argument("--rounds", type=int, help="rounds per workload (default 9, at least 5)")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="WORD",
        help="workloads whose '<backend> <name>' contains WORD (e.g. get, sqlite); repeatable",
    )
    parser.add_argument(
        "--backend", action="append", choices=BACKENDS, help="only these backends (repeatable)"
    )
    parser.add_argument("--output", type=Path, help="default benchmarks/results/peers.md")
    parser.add_argument("--no-chart", action="store_true")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.rounds is not None:
        args.rounds = max(5, args.rounds)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
