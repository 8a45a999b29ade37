"""``make demo`` runs end to end on every backend and shows what it promises."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from asyncdb import Database, DatabaseError
from demo.app import main
from demo.models import VERSION_TABLE

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


async def test_demo_leaves_an_existing_alembic_history_alone(private_database_url: str) -> None:
    """A database that already uses Alembic (its own ``alembic_version``, at a revision the demo
    does not know): the demo keeps its revision in a table of its own and removes that table."""
    async with Database(private_database_url) as db:
        await db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        await db.execute("INSERT INTO alembic_version VALUES ('0123456789ab')")
    try:
        await main(private_database_url)
        async with Database(private_database_url) as db:
            assert await db.fetch_val("SELECT version_num FROM alembic_version") == "0123456789ab"
            for table in (VERSION_TABLE, "demo_books", "demo_authors"):  # all removed
                with pytest.raises(DatabaseError):
                    await db.fetch_val(f"SELECT count(*) FROM {table}")
    finally:
        async with Database(private_database_url) as db:
            await db.execute("DROP TABLE IF EXISTS alembic_version")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "postgresql://demo:secret@127.0.0.1:1/shop",
            "demo: cannot connect to postgresql at 127.0.0.1:1: ",
        ),
        ("mysql://demo:secret@127.0.0.1:1/shop", "demo: cannot connect to MySQL at 127.0.0.1:1: "),
        ("postgres-ql://x", "demo: unsupported or malformed database URL (scheme 'postgres-ql')"),
    ],
)
def test_a_database_it_cannot_reach_is_one_line(url: str, message: str) -> None:
    env = {**os.environ, "DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "demo.app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith(message), line
    assert "secret" not in line


def make_plan(target: str, tmp_path: Path) -> str:
    """The commands ``make TARGET`` would run on a machine without the virtual environment."""
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MAKELEVEL", "MFLAGS"}}
    done = subprocess.run(
        ["make", "--dry-run", "--no-print-directory", target, f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_make_demo_installs_the_package_alone(tmp_path: Path) -> None:
    demo = make_plan("demo", tmp_path)
    assert "pip install --quiet -e .\n" in demo
    assert "[dev]" not in demo
    assert demo.rstrip().endswith("-m demo.app")
    test = make_plan("test", tmp_path)
    assert "pip install --quiet -e '.[dev]'" in test
