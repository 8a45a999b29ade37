"""Draw ``benchmarks/results/peers.png`` from ``peers.json`` (run by ``.venv-peers/tools``).

    python chart.py peers.json peers.png

One group of bars per workload: every library's throughput relative to asyncdb orm's in the same
run (asyncdb orm = 1; log scale, so 2x faster and 2x slower are equally far from 1).
"""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

NAMES = {"asyncpg": "raw driver (asyncpg, aiosqlite, aiomysql)"}


def main(source: str, target: str) -> None:
    with open(source, encoding="utf-8") as f:
        data = json.load(f)
    rows = data["rows"]
    columns = [c for c in data["columns"] if any(c in row["ops"] for row in rows)]
    ours = columns[0]
    fig, ax = plt.subplots(figsize=(12, 0.65 * len(rows) + 2))
    height = 0.8 / len(columns)
    for j, column in enumerate(columns):
        ys, xs = [], []
        for k, row in enumerate(rows):
            if column == ours and ours in row["ops"]:
                ys.append(k + j * height)
                xs.append(1.0)
            elif column in row["ratio"]:
                ys.append(k + j * height)
                xs.append(1 / row["ratio"][column])
        ax.barh(ys, xs, height=height, label=NAMES.get(column, column))
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_yticks([k + 0.4 - height / 2 for k in range(len(rows))])
    ax.set_yticklabels([row["workload"] for row in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"throughput relative to {ours} (same run; > 1 is faster than {ours})")
    ax.set_title(
        "asyncdb orm against the raw drivers and other libraries (PostgreSQL unless named)"
    )
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(target, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
