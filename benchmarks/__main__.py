"""``python -m benchmarks`` (``make bench``): the asyncdb benchmarks, then the ORM ones.

The ORM benchmarks live in ``benchmarks/bench_orm.py`` (written separately); when that module
exists and imports, its ``main()`` (or ``run()``) is called after the asyncdb workloads, and
awaited if it returns a coroutine. Missed targets are reported; ``--strict`` also makes the
exit status non-zero.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import platform
import sys
import time
import traceback
from dataclasses import replace
from pathlib import Path

import asyncpg
import sqlalchemy

from . import bench_asyncdb
from .common import Settings


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="far fewer operations (a smoke test of the suite)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help="rounds of every workload (default 30; execute_many 15, gateway 7; at least 5)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="WORD",
        help="run only workloads whose name contains WORD (fetch_one, fetch_all, execute_many, "
        "gateway, sqlite, mysql, orm); repeatable",
    )
    parser.add_argument("--output", type=Path, help="also write the Markdown report to a file")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    return parser.parse_args(argv)


def _run_orm() -> None:
    """Run ``benchmarks.bench_orm`` when it exists and imports."""
    if not (Path(__file__).parent / "bench_orm.py").exists():
        print("## orm\n\nskipped: benchmarks/bench_orm.py does not exist yet\n")
        return
    try:
        module = importlib.import_module("benchmarks.bench_orm")
    except Exception:
        print("## orm\n\nskipped: benchmarks/bench_orm.py failed to import:\n")
        print("```\n" + traceback.format_exc() + "```\n")
        return
    entry = getattr(module, "main", None) or getattr(module, "run", None)
    if entry is None:
        print("## orm\n\nskipped: benchmarks/bench_orm.py has no main() or run()\n")
        return
    result = entry()
    if inspect.iscoroutine(result):
        asyncio.run(result)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    settings = Settings().quick() if args.quick else Settings()
    if args.rounds is not None:
        rounds = max(args.rounds, 5)
        settings = replace(
            settings, rounds=rounds, execute_many_rounds=rounds, gateway_rounds=rounds
        )
    started = time.perf_counter()
    header = (
        f"# asyncdb benchmarks\n\nPython {platform.python_version()} on {platform.machine()} "
        f"({platform.system()}), asyncpg {asyncpg.__version__}, SQLAlchemy "
        f"{sqlalchemy.__version__}; {settings.rounds} interleaved rounds per workload "
        f"({settings.execute_many_rounds} for execute_many, {settings.gateway_rounds} for the "
        "gateway); "
        "times are medians over rounds; spread = ± half the interquartile range of the rounds, "
        "relative to the median; ratios are medians of per-round ratios (range over rounds in "
        "brackets); CPU = this client process's CPU time (`time.process_time`, user + "
        "system) per operation.\n"
    )
    print(header)
    only = [word for word in args.only if word != "orm"]
    report = None
    if not args.only or only:
        report = bench_asyncdb.run(settings, only)
        report.add(report.summary())
    if not args.only or "orm" in args.only:
        _run_orm()
    print(f"total time: {time.perf_counter() - started:.0f} s")
    if args.output is not None and report is not None:
        args.output.write_text(header + "\n" + "\n".join(report.sections))
    if args.strict and report is not None and not report.all_met:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
