"""The worker side of ``make bench-peers``: JSON lines on stdin/stdout, stdlib only.

Every ``*_worker.py`` runs under its own library's virtual environment (they pin conflicting
dependencies), imports this module from its own directory, registers its operations and calls
:func:`serve`. The parent (``benchmarks/bench_peers.py``) sends one JSON object per line:

* ``{"cmd": "hello"}`` -> ``{"contenders": {workload: {label: column}}, "versions": {...}}``
* ``{"cmd": "run", "workload": w, "contender": label, "n": n, "concurrency": c, "burst": b,
  "timeout": s}`` -> ``{"wall": s, "cpu": s, "latencies": [...] | null}``: the worker times its
  own batch (``time.perf_counter`` and ``time.process_time`` of this process), so neither the
  pipe nor the parent's scheduling is in the figures. A batch that raises, or runs longer than
  ``timeout`` seconds, is cancelled (all its tasks) and answered ``{"error": traceback}``;
* ``{"cmd": "freeze"}``: after the warm-up, move everything alive to the permanent GC generation
  (as ``benchmarks/harness.py`` does in-process);
* ``{"cmd": "quit"}``.

An operation is ``async def op(i: int, slot: int) -> None``: the ``i``-th operation of the
batch, run by task ``slot`` (0 .. concurrency - 1). With ``concurrency`` c the ``n`` operations
are shared by c tasks, each running its share back to back (task ``slot`` runs operations
``slot``, ``slot + c``, ...). A *burst* batch starts all ``n`` operations at once (the gateway
workload) and returns each one's latency.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

Op = Callable[[int, int], Awaitable[object]]

#: workload -> contender label -> (operation, column of the summary table)
REGISTRY: dict[str, dict[str, tuple[Op, str]]] = {}

ITEMS = 10_000
#: Connections in every contender's pool (and tasks of the gateway's holding pattern).
POOL = 10
#: The gateway's non-database await per request.
SLEEP = 0.02


def op(workload: str, label: str, column: str | None = None) -> Callable[[Op], Op]:
    """Register ``fn`` as ``label``'s way of doing one operation of ``workload``.

    ``column``: the library's column in the summary table (default: ``label``); the first
    contender of a column in a workload stands for it there.
    """

    def register(fn: Op) -> Op:
        REGISTRY.setdefault(workload, {})[label] = (fn, column or label)
        return fn

    return register


def key(i: int) -> int:
    """The i-th primary key of a batch: walks all 10,000 books, not one hot row."""
    return (i * 7919) % ITEMS + 1


def low20(i: int) -> int:
    """Lower bound of the i-th 20-row filter."""
    return (i * 97) % (ITEMS - 20)


def low1000(i: int) -> int:
    """Lower bound of the i-th 1,000-row filter."""
    return (i % 5) * 2_000


def range1000(i: int) -> tuple[int, int]:
    """``(low, high)``: the i-th 1,000-row update touches ``low < id <= high``.

    Ten disjoint ranges, so with 10 tasks each task updates its own rows (task ``slot`` runs
    operations ``slot``, ``slot + 10``, ...) and the batch measures the library, not row locks.
    """
    low = (i % 10) * 1_000
    return low, low + 1_000


def pages(i: int) -> int:
    """The constant the i-th update sets ``pages`` to."""
    return i % 500 + 1


def sink_rows(count: int = ITEMS) -> list[tuple[str, int, float]]:
    """The rows every contender inserts: (title, pages, price)."""
    return [(f"new-{i}", i % 1000, i / 3) for i in range(count)]


#: bulk_create's rows at one task (10,000) and per task at ten tasks (1,000 each).
BULK = ITEMS
BULK_C10 = 1_000


async def _batch(fn: Op, n: int, concurrency: int, burst: bool) -> list[float] | None:
    """Run the batch; the first failing operation cancels the others (a TaskGroup)."""
    if burst:
        latencies = [0.0] * n

        async def timed(i: int) -> None:
            t0 = time.perf_counter()
            await fn(i, 0)
            latencies[i] = time.perf_counter() - t0

        async with asyncio.TaskGroup() as group:
            for i in range(n):
                group.create_task(timed(i))
        return latencies
    if concurrency <= 1:
        for i in range(n):
            await fn(i, 0)
        return None

    async def share(slot: int) -> None:
        for i in range(slot, n, concurrency):
            await fn(i, slot)

    async with asyncio.TaskGroup() as group:
        for slot in range(concurrency):
            group.create_task(share(slot))
    return None


def _describe(exc: BaseException) -> str:
    """A traceback whose last line names the cause (the first error of an exception group)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return "".join(traceback.format_exception(exc))


async def _serve(versions: dict[str, str]) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = sys.stdout
    while True:
        line = await reader.readline()
        if not line:
            return
        msg = json.loads(line)
        cmd = msg["cmd"]
        reply: dict[str, Any]
        try:
            if cmd == "hello":
                contenders = {
                    w: {label: column for label, (_, column) in ops.items()}
                    for w, ops in REGISTRY.items()
                }
                reply = {"contenders": contenders, "versions": versions}
            elif cmd == "freeze":
                gc.collect()
                gc.freeze()
                reply = {}
            elif cmd == "run":
                fn = REGISTRY[msg["workload"]][msg["contender"]][0]
                gc.collect()
                cpu0 = time.process_time()
                t0 = time.perf_counter()
                batch = _batch(fn, msg["n"], msg.get("concurrency", 1), msg["burst"])
                try:
                    latencies = await asyncio.wait_for(batch, msg.get("timeout"))
                except TimeoutError:
                    raise TimeoutError(
                        f"batch of {msg['n']} did not finish within {msg.get('timeout')} s"
                    ) from None
                wall = time.perf_counter() - t0
                cpu = time.process_time() - cpu0
                reply = {"wall": wall, "cpu": cpu, "latencies": latencies}
            elif cmd == "quit":
                out.write(json.dumps({}) + "\n")
                out.flush()
                return
            else:
                reply = {"error": f"unknown command {cmd!r}"}
        except Exception as exc:
            reply = {"error": _describe(exc)}
        out.write(json.dumps(reply) + "\n")
        out.flush()


def serve(
    versions: dict[str, str],
    setup: Callable[[], Awaitable[None]],
    teardown: Callable[[], Awaitable[None]],
) -> None:
    """Connect (``setup``), answer the parent until it says quit or closes stdin, disconnect."""

    async def main() -> None:
        await setup()
        try:
            await _serve(versions)
        finally:
            await teardown()

    asyncio.run(main())


def dsn() -> str:
    """The database: ``postgresql://user@host:port/db``, ``mysql://...`` or ``sqlite:///path``."""
    return sys.argv[1]


def backend() -> str:
    """``postgresql``, ``mysql`` or ``sqlite``: the scheme of :func:`dsn`."""
    return dsn().split(":", 1)[0]


def driver_url(drivers: dict[str, str]) -> str:
    """:func:`dsn` with its scheme replaced per backend, e.g. ``{"mysql": "mysql+aiomysql"}``."""
    scheme, rest = dsn().split(":", 1)
    return f"{drivers.get(scheme, scheme)}:{rest}"
