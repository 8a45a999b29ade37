"""Where asyncdb orm's time goes in a ``make bench-peers`` workload (cProfile, per operation).

    .venv/bin/python -m benchmarks.bench_peers_profile filter20_models [bulk_create ...] [-n 2000]

Runs our worker's operation (``benchmarks/peers/asyncdb_worker.py``) ``n`` times in this process
under cProfile on the ``peer_*`` tables (created and dropped here, as ``bench_peers`` does), and
prints the functions by own time and by cumulative time in µs per operation, beside the raw
asyncpg worker's CPU time for the same operation.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import importlib
import pstats
import sys
import time

import asyncpg

from .bench_asyncdb import postgres_dsn
from .bench_peers import PEERS_DIR, ROOT, before_hooks, create_schema, drop_schema

DEFAULT_N = {"bulk_create": 5, "filter1000_models": 50, "gateway": 500}


def _load(script: str, dsn: str) -> object:
    sys.path.insert(0, str(PEERS_DIR))
    sys.argv[1:2] = [dsn]
    return importlib.import_module(script)


def _rows(stats: pstats.Stats, key: int, n: int, limit: int) -> list[str]:
    entries = stats.stats  # type: ignore[attr-defined]
    ordered = sorted(entries.items(), key=lambda item: item[1][key], reverse=True)
    out = []
    for (path, line, name), (_, calls, tottime, cumtime, _) in ordered[:limit]:
        where = f"{path.split(f'{ROOT}/')[-1].split('site-packages/')[-1]}:{line}({name})"
        out.append(f"{tottime / n * 1e6:10.1f} {cumtime / n * 1e6:10.1f} {calls / n:8.1f}  {where}")
    return out


async def profile(workload: str, n: int, limit: int) -> None:
    dsn = postgres_dsn()
    conn = await asyncpg.connect(dsn)
    await create_schema(conn)
    ours = _load("asyncdb_worker", dsn)
    raw = _load("raw_worker", dsn)
    registry = _load("_protocol", dsn).REGISTRY  # type: ignore[attr-defined]
    try:
        await ours.db.connect()  # type: ignore[attr-defined]
        await raw.setup()  # type: ignore[attr-defined]
        before = {"bulk_create": "truncate_sink", "insert": "truncate_sink"}
        hook = before_hooks(conn).get(before.get(workload, ""))
        labels = list(registry[workload])
        label = next(x for x in labels if x.startswith("asyncdb"))
        fn = registry[workload][label][0]
        raw_label = next(x for x in labels if x.startswith("asyncpg"))
        raw_fn = registry[workload][raw_label][0]
        for f in (fn, raw_fn):  # warm-up
            for i in range(max(1, n // 10)):
                await f(i, 0)
        gc.collect()
        gc.freeze()
        cpu = {}
        for name, f in (("raw", raw_fn), ("ours", fn)):
            if hook:
                await hook(n)
            cpu0, t0 = time.process_time(), time.perf_counter()
            for i in range(n):
                await f(i, 0)
            cpu[name] = ((time.process_time() - cpu0) / n, (time.perf_counter() - t0) / n)
        if hook:
            await hook(n)
        profiler = cProfile.Profile()
        profiler.enable()
        for i in range(n):
            await fn(i, 0)
        profiler.disable()
        stats = pstats.Stats(profiler)
        print(f"## {workload}: {label}, {n} operations")
        for name, (c, w) in cpu.items():
            print(f"{name}: {c * 1e6:,.1f} µs CPU, {w * 1e6:,.1f} µs wall per operation")
        header = f"{'own µs':>10} {'cum µs':>10} {'calls':>8}  function (per operation)"
        print("\nby own time:\n" + header)
        print("\n".join(_rows(stats, 2, n, limit)))
        print("\nby cumulative time:\n" + header)
        print("\n".join(_rows(stats, 3, n, limit)))
        print()
    finally:
        await ours.db.disconnect()  # type: ignore[attr-defined]
        await raw.teardown()  # type: ignore[attr-defined]
        await drop_schema(conn)
        await conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_peers_profile")
    parser.add_argument("workloads", nargs="+", help="worker operations, e.g. filter20_models")
    parser.add_argument("-n", type=int, help="operations (default 2000; bulk_create 5)")
    parser.add_argument("--limit", type=int, default=25, help="functions listed")
    args = parser.parse_args(argv)
    for workload in args.workloads:
        n = args.n or DEFAULT_N.get(workload, 2000)
        asyncio.run(profile(workload, n, args.limit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
