"""The suite's own collection: what a run reports is what it runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_pgbouncer_suite_collects_postgresql_cases_only() -> None:
    """The asyncdb tests re-run through PgBouncer are PostgreSQL's: the SQLite and MySQL cases
    are never collected, so a run reports no unexplained "deselected" tests."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "tests/scaleout/test_pgbouncer_suite.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    ids = [line for line in done.stdout.splitlines() if "::" in line]
    assert any(line.endswith("[postgresql]") for line in ids)
    assert not [line for line in ids if line.endswith(("[sqlite]", "[mysql]"))]
    assert "deselected" not in done.stdout
