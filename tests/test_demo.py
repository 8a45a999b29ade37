"""``make demo`` runs end to end on every backend and shows what it promises."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from demo.app import main

ROOT = Path(__file__).resolve().parent.parent


async def test_demo_tour(private_database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    await main(private_database_url)
    out = capsys.readouterr().out
    assert "applied" in out and "bookshop" in out
    assert "4 authors, 7 books" in out
    assert "select_related('author'): 7 books in 1 query" in out
    assert "prefetch_related('books__tags'): 4 authors in 3 queries" in out
    assert "RelationNotLoaded: Book.author is not loaded. Use Book.objects.select_related" in out
    assert "queries issued by touching them: 0" in out
    assert "after rollback: 7 books" in out
    assert "eager release (default)" in out and "holding a connection" in out
    assert out.rstrip().endswith("done")


@pytest.mark.backends("sqlite")
def test_make_demo_entry_point(backend: str, tmp_path: Path) -> None:
    """What `make demo` runs, as a separate process on its default embedded database."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["TMPDIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "demo.app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "demo finished in" in done.stdout
