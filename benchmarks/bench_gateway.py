"""The gateway workload: many concurrent requests, a small pool, slow non-database I/O.

Each round starts ``gateway_tasks`` (500) tasks at once against a pool of ``gateway_pool`` (10)
connections. A task is one request: one query by primary key, then ``await asyncio.sleep(0.02)``
standing for an HTTP call or other non-database I/O. Contenders:

* *eager release*: ``await db.fetch_one(...)`` then sleep — the connection is back in the pool
  before the sleep starts, so 10 connections serve all 500 tasks;
* *holding*: ``async with db.connection(): fetch_one; sleep`` — the pattern of a session per
  request, which keeps the connection through the sleep (about 50 waves of 20 ms);
* *asyncpg pool.fetchrow* (information): asyncpg's own pool, released per query.

Throughput is requests / wall time of the round; latency is each task's start-to-finish time
(including the wait for a connection), pooled over all rounds for p50/p99.
Target: eager release ≥ 10x the throughput of holding.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import asyncpg

from asyncdb import Database

from .common import DB_ONE, ITEM_COLUMNS, ITEMS_TABLE, Settings, key
from .harness import Contender, Report, Target, measure

__all__ = ["run"]

_PG_ONE = f"SELECT {ITEM_COLUMNS} FROM {ITEMS_TABLE} WHERE id = $1"


def _burst(
    request: Callable[[int], Awaitable[object]],
) -> Callable[[int], Awaitable[list[float]]]:
    """A batch of ``n`` concurrent requests, returning each one's latency."""

    async def batch(n: int) -> list[float]:
        async def timed(i: int) -> float:
            t0 = time.perf_counter()
            await request(i)
            return time.perf_counter() - t0

        return list(await asyncio.gather(*(timed(i) for i in range(n))))

    return batch


async def run(report: Report, s: Settings, url: str, dsn: str) -> None:
    """Measure the three contenders on ``url`` (asyncdb) and ``dsn`` (asyncpg)."""
    size = s.gateway_pool
    sleep = s.gateway_sleep
    db = Database(url, min_size=size, max_size=size)
    await db.connect()
    pool = await asyncpg.create_pool(dsn, min_size=size, max_size=size)

    async def eager(i: int) -> None:
        await db.fetch_one(DB_ONE, {"id": key(i)})
        await asyncio.sleep(sleep)

    async def holding(i: int) -> None:
        async with db.connection():
            await db.fetch_one(DB_ONE, {"id": key(i)})
            await asyncio.sleep(sleep)

    async def asyncpg_pool(i: int) -> None:
        await pool.fetchrow(_PG_ONE, key(i))
        await asyncio.sleep(sleep)

    eager_name, holding_name = "asyncdb eager release", "asyncdb holding (db.connection())"
    try:
        results = await measure(
            [
                Contender(holding_name, _burst(holding)),
                Contender(eager_name, _burst(eager)),
                Contender("asyncpg pool.fetchrow", _burst(asyncpg_pool)),
            ],
            ops=s.gateway_tasks,
            rounds=s.gateway_rounds,
            warmup=size * 2,
        )
    finally:
        await pool.close()
        await db.disconnect()
    report.table(
        "PostgreSQL: gateway workload",
        f"{s.gateway_tasks} concurrent tasks per round, pool of {size}; each task runs one "
        f"query then awaits `asyncio.sleep({sleep})`. Latency = task start to finish, "
        "including the wait for a connection.",
        results,
        baseline=holding_name,
        unit="req",
        throughput_ratio=True,
        targets=[
            Target("gateway eager vs holding", eager_name, holding_name, 10.0, kind="throughput"),
        ],
    )
