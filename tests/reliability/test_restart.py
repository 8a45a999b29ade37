"""Server restart under load (issue 8, item 2), on private PostgreSQL and MariaDB servers.

200 tasks read and write (transactions) without pause while the server is restarted, either
cleanly (fast shutdown: sessions are terminated) or by SIGKILL. The promises:

* an operation fails only if it was under way while the server was down, and then only with
  ``OperationalError`` (never another type, never a hang: every operation is bounded);
* every operation started after the server is back succeeds, with no reconnect in user code;
* the pool leaks nothing (``pool_stats()``, and the server's own list of sessions);
* every transaction that reported commit is in the database.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa

from asyncdb import Database, OperationalError, PoolTimeout, QueryTimeout

from .servers import PrivateServer

pytestmark = pytest.mark.backends("postgresql", "mysql")

TASKS = 200
POOL = 20
#: No single operation may take longer than this: a longer one counts as a hang.
OPERATION_BOUND = 30.0

meta = sa.MetaData()
events = sa.Table(
    "rel_restart_events",
    meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("task", sa.Integer, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.UniqueConstraint("task", "seq", name="rel_restart_events_task_seq"),
)
counters = sa.Table(
    "rel_restart_counters",
    meta,
    sa.Column("task", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("n", sa.Integer, nullable=False),
)


@dataclass
class Outcome:
    start: float
    end: float
    kind: str
    error: BaseException | None = None


@dataclass
class Load:
    outcomes: list[Outcome] = field(default_factory=list)
    committed: set[tuple[int, int]] = field(default_factory=set)


async def _recreate(db: Database) -> None:
    for table in reversed(meta.sorted_tables):
        await db.execute(sa.schema.DropTable(table, if_exists=True))
    for table in meta.sorted_tables:
        await db.execute(sa.schema.CreateTable(table))


async def _worker(db: Database, task: int, stop: asyncio.Event, load: Load, seed: int) -> None:
    rng = random.Random(seed)
    seq = 0
    await db.execute(counters.insert().values(task=task, n=0))
    while not stop.is_set():
        seq += 1
        kind = "write" if seq % 2 else "read"
        start = time.monotonic()
        error: BaseException | None = None
        try:
            async with asyncio.timeout(OPERATION_BOUND):
                if kind == "read":
                    await db.fetch_all(
                        sa.select(events.c.seq).where(events.c.task == task).limit(5)
                    )
                else:
                    async with db.transaction():
                        await db.execute(events.insert().values(task=task, seq=seq))
                        await db.execute(
                            counters.update()
                            .where(counters.c.task == task)
                            .values(n=counters.c.n + 1)
                        )
                    load.committed.add((task, seq))
        except Exception as exc:  # every failure is recorded and judged below
            error = exc
        load.outcomes.append(Outcome(start, time.monotonic(), kind, error))
        await asyncio.sleep(rng.uniform(0, 0.005))


async def _server_sessions(admin: Database, backend: str, app: str) -> int:
    if backend == "postgresql":
        return int(
            await admin.fetch_val(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = :app",
                {"app": app},
            )
        )
    return int(
        await admin.fetch_val(
            "SELECT count(*) FROM information_schema.processlist "
            "WHERE user = 'root' AND command <> 'Daemon' AND id <> CONNECTION_ID()"
        )
    )


@pytest.mark.parametrize("mode", ["fast", "kill"])
async def test_restart_under_load(backend: str, private_server: PrivateServer, mode: str) -> None:
    url = private_server.url
    app = f"rel_restart_{mode}"
    options = f"?application_name={app}" if backend == "postgresql" else ""
    async with Database(url, max_size=1) as admin:
        await _recreate(admin)
    db = Database(url + options, min_size=2, max_size=POOL, acquire_timeout=OPERATION_BOUND)
    await db.connect()
    load = Load()
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    try:
        tasks += [asyncio.create_task(_worker(db, i, stop, load, seed=i)) for i in range(TASKS)]
        await asyncio.sleep(0.8)  # load established: every pooled connection busy
        down = time.monotonic()
        await asyncio.to_thread(private_server.restart, mode)
        up = time.monotonic()
        await asyncio.sleep(1.0)  # the load goes on against the restarted server
        stop.set()
        async with asyncio.timeout(OPERATION_BOUND * 2):
            results = await asyncio.gather(*tasks, return_exceptions=True)
        assert [r for r in results if r is not None] == []

        failures = [o for o in load.outcomes if o.error is not None]
        wrong_type = [
            o.error
            for o in failures
            if not isinstance(o.error, OperationalError)
            or isinstance(o.error, PoolTimeout | QueryTimeout)
        ]
        assert wrong_type == [], f"failures that are not OperationalError: {wrong_type[:5]!r}"
        # Only operations under way while the server was down may fail ...
        assert [o for o in failures if o.start >= up] == []
        # ... and the restart really hit operations in flight.
        overlapping = [o for o in load.outcomes if o.start < up and o.end > down]
        assert overlapping
        after = [o for o in load.outcomes if o.start >= up]
        assert len(after) >= TASKS  # every task went on working after the restart

        # Every new operation succeeds, and nothing leaked.
        assert await asyncio.gather(*(db.fetch_val("SELECT 1") for _ in range(50))) == [1] * 50
        await asyncio.sleep(0.1)  # background rollbacks and closes
        stats = db.pool_stats()
        assert stats.in_use == 0 and stats.waiting == 0 and stats.size <= POOL
        async with Database(url, max_size=1) as admin:
            sessions = await _server_sessions(admin, backend, app)
            for _ in range(100):  # the server ends terminated sessions asynchronously
                if sessions <= stats.size:
                    break
                await asyncio.sleep(0.05)
                sessions = await _server_sessions(admin, backend, app)
            assert sessions <= stats.size
            # Every reported commit is there, with its counter update (same transaction).
            rows = await admin.fetch_all(sa.select(events.c.task, events.c.seq))
            stored = {(r.task, r.seq) for r in rows}
            lost = load.committed - stored
            assert lost == set()
            per_task = Counter(task for task, _ in stored)
            counts = {r.task: r.n for r in await admin.fetch_all(sa.select(counters))}
            assert all(counts[task] == n for task, n in per_task.items())
        print(
            f"\n[restart {backend} {mode}] tasks={TASKS} operations={len(load.outcomes)} "
            f"commits={len(load.committed)} failed={len(failures)} "
            f"({dict(Counter(type(o.error).__name__ for o in failures))}) "
            f"in flight at restart={len(overlapping)} after restart={len(after)} "
            f"rows lost={len(lost)} downtime={up - down:.2f}s"
        )
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await db.disconnect()
        await asyncio.to_thread(private_server.ensure_running)  # whatever happened above
        async with Database(url, max_size=1) as admin:
            for table in reversed(meta.sorted_tables):
                await admin.execute(sa.schema.DropTable(table, if_exists=True))
