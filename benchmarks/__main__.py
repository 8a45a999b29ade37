"""``python -m benchmarks`` (``make bench``): the asyncdb benchmarks, then the ORM ones.

The ORM benchmarks live in ``benchmarks/bench_orm.py`` (written separately). When that module
exists and imports, it runs after the asyncdb workloads: ``await run(report, settings)`` when it
has that coroutine (its tables then join this report, its targets the summary), otherwise its
``main()`` (or ``run()``), awaited if it returns a coroutine. Missed targets are reported;
``--strict`` also makes the exit status 1. A crash of the ORM module is reported and exits 1
after the asyncdb results are out.
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
from types import ModuleType

import asyncpg
import sqlalchemy

from . import bench_asyncdb
from .common import Settings
from .harness import Report

WORKLOADS = ("fetch_one", "fetch_all", "execute_many", "gateway", "sqlite", "mysql", "orm")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="far fewer operations (a smoke test of the suite)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help="rounds of every workload (default 25; execute_many 15, gateway 7; at least 5)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="WORD",
        help=f"run only workloads whose name contains WORD ({', '.join(WORKLOADS)}); repeatable",
    )
    parser.add_argument("--output", type=Path, help="also write the Markdown report to a file")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    return parser.parse_args(argv)


def _header(settings: Settings) -> str:
    return (
        f"# asyncdb benchmarks\n\nPython {platform.python_version()} on {platform.machine()} "
        f"({platform.system()}), asyncpg {asyncpg.__version__}, SQLAlchemy "
        f"{sqlalchemy.__version__}; {settings.rounds} interleaved rounds per workload "
        f"({settings.execute_many_rounds} for execute_many, {settings.gateway_rounds} for the "
        "gateway); times are medians over rounds; spread = ± half the interquartile range of the "
        "rounds, relative to the median; ratios are medians of per-round ratios (range over "
        "rounds in brackets); CPU = this client process's CPU time (`time.process_time`, user + "
        "system) per operation.\n"
    )


def _load_orm(report: Report) -> ModuleType | None:
    """``benchmarks.bench_orm`` if it exists and imports, else None (with a note)."""
    if not (Path(__file__).parent / "bench_orm.py").exists():
        report.add("## orm\n\nskipped: benchmarks/bench_orm.py does not exist yet\n")
        return None
    try:
        return importlib.import_module("benchmarks.bench_orm")
    except Exception:
        report.add(
            "## orm\n\nskipped: benchmarks/bench_orm.py failed to import:\n\n```\n"
            + traceback.format_exc()
            + "```\n"
        )
        return None


def _run_orm(report: Report, settings: Settings) -> None:
    module = _load_orm(report)
    if module is None:
        return
    run = getattr(module, "run", None)
    if inspect.iscoroutinefunction(run) and len(inspect.signature(run).parameters) >= 2:
        asyncio.run(run(report, settings))
        return
    entry = getattr(module, "main", None) or run
    if entry is None:
        report.add("## orm\n\nskipped: benchmarks/bench_orm.py has no main() or run()\n")
        return
    # Never let it parse this command line: give it an empty one when it takes one.
    result = entry([]) if inspect.signature(entry).parameters else entry()
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
    report = Report()
    report.add(_header(settings))
    only = [word for word in args.only if word != "orm"]
    status = 0
    if not args.only or only:
        asyncio.run(bench_asyncdb.run(report, settings, only))
        report.add(f"(asyncdb workloads: {time.perf_counter() - started:.0f} s)\n")
    if not args.only or "orm" in args.only:
        try:
            _run_orm(report, settings)
        except Exception:
            report.add("## orm\n\nfailed:\n\n```\n" + traceback.format_exc() + "```\n")
            status = 1
    report.add(report.summary())
    report.add(f"total time: {time.perf_counter() - started:.0f} s\n")
    if args.output is not None:
        args.output.write_text("\n".join(report.sections))
    if args.strict and not report.all_met:
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
