"""Client instructions per ORM operation on PostgreSQL, counted by callgrind (issue 16).

    .venv/bin/python -m benchmarks.bench_callgrind [--only get] [--runs 200 1200]

Wall-clock time on a shared machine moves by 10% from run to run; the instructions the client
process executes do not (``PYTHONHASHSEED`` is fixed, so dict layouts repeat too). Each
operation runs under ``valgrind --tool=callgrind`` twice, ``N1`` and ``N2`` times after the
same warm-up, and the difference divided by ``N2 - N1`` is its cost without start-up: counts
repeat to well under 1%. The database server is another process and is not counted. This is
the measure behind the per-query fast paths that docs/performance.md keeps (``get()``'s, the
generated ``QueryState.copy``): compare a change's counts with the parent commit's.

Operations (``Book``: six columns, 3,000 rows): ``get`` (``Book.objects.get(id=k)``),
``filter20`` (``filter(id__gt=k).order_by("id")[:20]``, as models), ``values_list1000``
(1,000 rows as tuples) and, for reference, ``raw_fetch20``: the same 20 rows through asyncpg's
``conn.fetch`` on a held connection. Needs ``valgrind`` on the PATH.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import re
import shutil
import subprocess
import sys

import asyncpg

import orm
from asyncdb import Database

from .bench_asyncdb import postgres_dsn
from .common import postgres_url

__all__ = ["main"]

OPERATIONS = ("get", "filter20", "values_list1000", "raw_fetch20")
ROWS = 3_000
WARM_UP = 20
TABLE = f"bench_cg_books_{os.environ.get('BENCH_CALLGRIND_OWNER', os.getpid())}"

models = orm.ModelRegistry()


class Book(orm.Model):
    registry = models
    tablename = TABLE
    title = orm.String(max_length=200)
    author_id = orm.Integer()
    pages = orm.Integer()
    price = orm.Float()
    published = orm.Date()


FIELDS = ("id", "title", "author_id", "pages", "price", "published")
RAW_20 = (
    f"SELECT id, title, author_id, pages, price, published FROM {TABLE} "
    "WHERE id > $1 ORDER BY id LIMIT 20"
)


async def _work(operation: str, count: int) -> None:
    """Run ``operation`` ``WARM_UP + count`` times (in the process valgrind watches)."""
    db = Database(postgres_url(), min_size=1, max_size=1)
    models.database = db
    conn = await asyncpg.connect(postgres_dsn()) if operation == "raw_fetch20" else None
    async with db:
        for i in range(WARM_UP + count):
            k = i % 1_000
            if operation == "get":
                await Book.objects.get(id=k + 1)
            elif operation == "filter20":
                await Book.objects.filter(id__gt=k).order_by("id")[:20]
            elif operation == "values_list1000":
                await Book.objects.filter(id__gt=k).order_by("id")[:1000].values_list(*FIELDS)
            else:
                assert conn is not None
                await conn.fetch(RAW_20, k)
    if conn is not None:
        await conn.close()


def _instructions(operation: str, count: int) -> int:
    env = {**os.environ, "PYTHONHASHSEED": "0", "BENCH_CALLGRIND_OWNER": TABLE.rsplit("_", 1)[1]}
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-m",
            "benchmarks.bench_callgrind",
            "--work",
            operation,
            str(count),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{done.stderr[-2000:]}")
    return int(found.group(1))


async def _create() -> None:
    async with Database(postgres_url()) as db:
        models.database = db
        await models.drop_all()
        await models.create_all()
        day = dt.date(2026, 1, 1)
        books = [
            Book(title=f"t{i}", author_id=1, pages=i, price=1.5, published=day) for i in range(ROWS)
        ]
        await Book.objects.bulk_create(books)


async def _drop() -> None:
    async with Database(postgres_url()) as db:
        await models.drop_all(db)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_callgrind")
    parser.add_argument("--only", action="append", default=[], choices=OPERATIONS)
    parser.add_argument("--runs", nargs=2, type=int, default=[200, 1200], metavar=("N1", "N2"))
    parser.add_argument("--work", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.work:
        asyncio.run(_work(args.work[0], int(args.work[1])))
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    n1, n2 = args.runs
    asyncio.run(_create())
    try:
        print(f"| operation | instructions per call (N = {n1} and {n2}) |\n| --- | --- |")
        for operation in args.only or OPERATIONS:
            runs = n1, n2
            if operation == "values_list1000":
                runs = max(1, n1 // 10), max(2, n2 // 10)
            low, high = (_instructions(operation, n) for n in runs)
            print(f"| {operation} | {(high - low) // (runs[1] - runs[0]):,} |", flush=True)
    finally:
        asyncio.run(_drop())


if __name__ == "__main__":
    main()
