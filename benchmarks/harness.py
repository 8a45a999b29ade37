"""Timing helpers: interleaved rounds, medians and spreads, ratio tables and targets in Markdown.

Every contender of a workload is measured in the same run, round by round: in each round every
contender runs one batch of ``ops`` operations, in an order rotated from round to round so no
contender always goes first. A batch reports its wall time (``time.perf_counter``) and the
client process's CPU time (``time.process_time``: this Python process only, not the database
server), both divided by ``ops``. Per contender the table shows the median over rounds and the
spread (interquartile range / median). A ratio between two contenders is the median of their
per-round ratios, so both sides of each ratio come from the same moment of the run.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, TextIO

__all__ = [
    "Contender",
    "Kind",
    "Measurement",
    "Report",
    "Target",
    "measure",
    "percentile",
]

#: What a target's ratio compares: time per operation, or operations/s.
Kind = Literal["time", "throughput"]

#: A batch: run ``n`` operations; may return per-operation latencies in seconds (gateway).
Batch = Callable[[int], Awaitable[Sequence[float] | None]]


@dataclass(frozen=True)
class Contender:
    """One way of doing the workload's operation."""

    name: str
    batch: Batch


@dataclass
class Measurement:
    """What one contender measured: per-round wall and CPU seconds per operation."""

    name: str
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.wall)

    @property
    def ops_per_s(self) -> float:
        return 1.0 / self.median

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)

    @property
    def spread(self) -> float:
        """Interquartile range of the per-round times, relative to the median."""
        if len(self.wall) < 2:
            return 0.0
        q1, _, q3 = statistics.quantiles(self.wall, n=4)
        return (q3 - q1) / self.median


async def measure(
    contenders: Sequence[Contender],
    *,
    ops: int,
    rounds: int,
    warmup: int | None = None,
    before_batch: Callable[[], Awaitable[None]] | None = None,
) -> dict[str, Measurement]:
    """Run every contender ``rounds`` times, interleaved, ``ops`` operations per batch.

    ``warmup`` operations per contender run first, untimed (default: a tenth of ``ops``).
    ``before_batch`` runs untimed before every batch (e.g. to empty a table), and so does a
    garbage collection, so no collection pause falls into a batch it did not cause.
    """
    results = {c.name: Measurement(c.name) for c in contenders}
    for contender in contenders:
        if before_batch is not None:
            await before_batch()
        await contender.batch(max(1, ops // 10) if warmup is None else warmup)
    # Everything alive now (modules, test data) is left out of later collections, so the
    # collection before each batch takes microseconds instead of ~30 ms.
    gc.collect()
    gc.freeze()
    try:
        await _rounds(contenders, results, ops, rounds, before_batch)
    finally:
        gc.unfreeze()
    return results


async def _rounds(
    contenders: Sequence[Contender],
    results: dict[str, Measurement],
    ops: int,
    rounds: int,
    before_batch: Callable[[], Awaitable[None]] | None,
) -> None:
    for r in range(rounds):
        shift = r % len(contenders)
        for contender in [*contenders[shift:], *contenders[:shift]]:
            if before_batch is not None:
                await before_batch()
            gc.collect()
            cpu0 = time.process_time()
            t0 = time.perf_counter()
            latencies = await contender.batch(ops)
            wall = time.perf_counter() - t0
            cpu = time.process_time() - cpu0
            m = results[contender.name]
            m.wall.append(wall / ops)
            m.cpu.append(cpu / ops)
            if latencies:
                m.latencies.extend(latencies)


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile (0-100) of ``values``, nearest-rank."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def paired_ratio(subject: Measurement, baseline: Measurement) -> tuple[float, float, float]:
    """Median, min and max over rounds of subject time / baseline time (same round)."""
    ratios = [s / b for s, b in zip(subject.wall, baseline.wall, strict=True)]
    return statistics.median(ratios), min(ratios), max(ratios)


@dataclass(frozen=True)
class Target:
    """A goal for one ratio.

    ``kind="time"``: subject's time per operation at most ``limit`` x the baseline's.
    ``kind="throughput"``: subject's operations/s at least ``limit`` x the baseline's.
    ``informative``: the same ratio where the goal was not set (another backend, another
    concurrency): shown and listed in :attr:`Report.infos`, not counted in
    :attr:`Report.verdicts` nor :attr:`Report.all_met`.
    """

    label: str
    subject: str
    baseline: str
    limit: float
    kind: Kind = "time"
    informative: bool = False

    def evaluate(self, results: dict[str, Measurement]) -> tuple[float, bool]:
        ratio, _, _ = paired_ratio(results[self.subject], results[self.baseline])
        if self.kind == "throughput":
            ratio = 1.0 / ratio
            return ratio, ratio >= self.limit
        return ratio, ratio <= self.limit

    def describe(self) -> str:
        if self.kind == "throughput":
            return f"≥ {self.limit:g}x throughput"
        return f"≤ {self.limit:g}x time"


@dataclass
class Report:
    """Collects Markdown sections, echoing each one to ``out`` as it is added."""

    out: TextIO = sys.stdout
    sections: list[str] = field(default_factory=list)
    verdicts: list[tuple[str, str, float, bool]] = field(default_factory=list)
    #: The informative targets' results (same shape as ``verdicts``).
    infos: list[tuple[str, str, float, bool]] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.sections.append(text)
        print(text, file=self.out, flush=True)

    def table(
        self,
        title: str,
        what: str,
        results: dict[str, Measurement],
        *,
        baseline: str,
        unit: str = "op",
        items_per_op: int = 1,
        targets: Sequence[Target] = (),
        throughput_ratio: bool = False,
    ) -> None:
        """Add a section: one row per contender, ratios to ``baseline``, then the targets.

        Ratios are of time per operation, or of operations/s with ``throughput_ratio``.
        """
        show_latency = any(m.latencies for m in results.values())
        header = [
            "contender",
            f"µs/{unit}",
            f"{unit}s/s" if items_per_op == 1 else "rows/s",
            "spread",
            f"{'throughput' if throughput_ratio else 'time'} vs baseline",
            f"CPU µs/{unit}",
            "CPU vs baseline",
        ]
        if show_latency:
            header += ["p50 ms", "p99 ms"]
        lines = [f"### {title}", "", what, f"Baseline: {baseline}.", ""]
        lines += [_row(header), _row(["---"] * len(header))]
        base = results[baseline]
        for m in results.values():
            ratio, low, high = paired_ratio(m, base)
            if throughput_ratio:
                ratio, low, high = 1 / ratio, 1 / high, 1 / low
            cells = [
                m.name,
                f"{m.median * 1e6:,.1f}",
                f"{m.ops_per_s * items_per_op:,.0f}",
                f"±{m.spread / 2:.0%}",
                "baseline" if m is base else f"{ratio:.2f}x ({low:.2f}-{high:.2f})",
                f"{m.cpu_median * 1e6:,.1f}",
                "baseline" if m is base else f"{m.cpu_median / base.cpu_median:.2f}x",
            ]
            if show_latency:
                cells += [
                    f"{percentile(m.latencies, 50) * 1e3:,.1f}" if m.latencies else "",
                    f"{percentile(m.latencies, 99) * 1e3:,.1f}" if m.latencies else "",
                ]
            lines.append(_row(cells))
        if targets:
            lines += ["", _row(["target", "goal", "measured", "verdict"]), _row(["---"] * 4)]
            for target in targets:
                ratio, met = target.evaluate(results)
                verdict = "**met**" if met else "**MISSED**"
                if target.informative:
                    verdict = f"{'met' if met else 'missed'} (information)"
                lines.append(_row([target.label, target.describe(), f"{ratio:.2f}x", verdict]))
                kept = self.infos if target.informative else self.verdicts
                kept.append((target.label, target.describe(), ratio, met))
        self.add("\n".join(lines) + "\n")

    def summary(self) -> str:
        """A Markdown table of every target evaluated so far."""
        lines = ["### Targets", "", _row(["target", "goal", "measured", "verdict"])]
        lines.append(_row(["---"] * 4))
        for label, goal, ratio, met in self.verdicts:
            verdict = "**met**" if met else "**MISSED**"
            lines.append(_row([label, goal, f"{ratio:.2f}x", verdict]))
        return "\n".join(lines) + "\n"

    @property
    def all_met(self) -> bool:
        return all(met for *_, met in self.verdicts)


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"
