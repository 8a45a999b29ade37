"""Draw ``benchmarks/results/peers.png`` from ``peers.json`` (run by ``.venv-peers/tools``).

    python chart.py peers.json peers.png

One panel per backend, one group of bars per workload: every library's throughput relative to
asyncdb orm's in the same run (asyncdb orm = 1; log scale, so 2x faster and 2x slower are
equally far from 1).
"""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

NAMES = {"asyncpg": "raw driver (asyncpg, aiomysql, aiosqlite)"}


def main(source: str, target: str) -> None:
    with open(source, encoding="utf-8") as f:
        data = json.load(f)
    all_rows = data["rows"]
    columns = [c for c in data["columns"] if any(c in row["ops"] for row in all_rows)]
    ours = columns[0]
    backends = [b for b in data["backends"] if any(r["backend"] == b for r in all_rows)]
    titles = {b: [r["workload"] for r in all_rows if r["backend"] == b] for b in backends}
    same = all(titles[b] == titles[backends[0]] for b in backends)
    tallest = max(len(t) for t in titles.values())
    fig, axes = plt.subplots(
        1,
        len(backends),
        figsize=(5 * len(backends) + 6, 0.45 * tallest + 2),
        squeeze=False,
        sharex=True,
        sharey=same,
    )
    height = 0.8 / len(columns)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, backend in zip(axes[0], backends, strict=True):
        rows = [r for r in all_rows if r["backend"] == backend]
        for j, column in enumerate(columns):
            ys, xs = [], []
            for k, row in enumerate(rows):
                if column == ours and ours in row["ops"]:
                    ys.append(k + j * height)
                    xs.append(1.0)
                elif column in row["ratio"]:
                    ys.append(k + j * height)
                    xs.append(1 / row["ratio"][column])
            ax.barh(
                ys, xs, height=height, color=colors[j % len(colors)],
                label=NAMES.get(column, column),
            )  # fmt: skip
        ax.set_xscale("log")
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_yticks([k + 0.4 - height / 2 for k in range(len(rows))])
        if ax is axes[0][0] or not same:
            ax.set_yticklabels([row["workload"] for row in rows], fontsize=7)
        ax.set_ylim(len(rows), -0.2)
        ax.set_title(data["backends"][backend])
        ax.set_xlabel(f"throughput relative to {ours} (> 1: faster)", fontsize=8)
        ax.grid(axis="x", which="both", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="upper right")
    fig.suptitle("asyncdb orm against the raw drivers and other libraries, same run")
    fig.tight_layout(rect=(0, 0, 0.86, 0.97))
    fig.savefig(target, dpi=100)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
