"""A column rename keeps its data when confirmed; otherwise the loss is announced."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

import migrations
from migrations import Rename

if TYPE_CHECKING:
    from conftest import Project

ROOT = Path(__file__).resolve().parents[2]

PEOPLE = """
people = sa.Table(
    "people",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("{column}", sa.String(100), nullable=False),
)
"""


async def test_rename_through_the_command_line_keeps_the_data(project: Project) -> None:
    project.write_models(PEOPLE.format(column="fullname"))
    directory = await project.migrated()
    await project.sql("INSERT INTO people (fullname) VALUES ('Ann Lee')")
    project.write_models(PEOPLE.format(column="name"))

    # Not a terminal and no --rename: nothing is guessed, the error names both ways out.
    assert project.fail("makemigrations", "-m", "rename") == (
        "error: people.fullname may have been renamed to people.name, and there is no terminal "
        "to ask: run again with --rename people.fullname:name to keep its data, or with "
        "--no-input to drop it and create people.name (nothing was written)"
    )
    assert len(project.revisions()) == 1
    # --no-input: drop and add, with a warning naming the way out.
    unconfirmed = project.cli("makemigrations", "-m", "rename", "--no-input")
    assert (
        "warning: column people.fullname is dropped: its data will be lost (if it was renamed, "
        "run again with --rename people.fullname:name)"
    ) in unconfirmed.stderr
    revision = project.created(unconfirmed)
    assert re.search(r"drop_column\((?:'people', )?'fullname'\)", revision.read_text())
    revision.unlink()

    source = project.make("-m", "rename", "--rename", "people.fullname:name").read_text()
    assert "new_column_name='name'" in source
    assert "drop_column" not in source
    project.cli("migrate")
    assert await project.sql("SELECT name FROM people") == [("Ann Lee",)]
    await migrations.downgrade(project.url, None, directory, revision="-1")
    assert await project.sql("SELECT fullname FROM people") == [("Ann Lee",)]


@pytest.mark.backends("sqlite")  # argument checking: the same on every backend
async def test_rename_that_matches_nothing_is_an_error(project: Project) -> None:
    project.write_models(PEOPLE.format(column="fullname"))
    await project.migrated()
    project.write_models(PEOPLE.format(column="name"))
    line = project.fail("makemigrations", "-m", "x", "--rename", "people.nickname:name")
    assert line == "error: --rename people.nickname:name: table 'people' loses no column 'nickname'"
    line = project.fail("makemigrations", "-m", "x", "--rename", "people.fullname:alias")
    assert line == "error: --rename people.fullname:alias: table 'people' gains no column 'alias'"
    assert len(project.revisions()) == 1


@pytest.mark.parametrize(
    "spec", ["nonsense", "people:name", "people.fullname:", "a.b:c.d", "a=", "=b", "a.b=c", "a=b=c"]
)
def test_malformed_rename(spec: str) -> None:
    with pytest.raises(
        migrations.MigrationError,
        match="must look like 'table.old_column:new_column' or 'old_table=new_table'",
    ):
        Rename.parse(spec)


def test_rename_specs() -> None:
    assert Rename.parse("people.fullname:name") == Rename("people", "fullname", "name")
    assert Rename.parse("authors=writers") == Rename.of_table("authors", "writers")
    assert str(Rename.of_table("authors", "writers")) == "authors=writers"
    assert Rename.of_table("authors", "writers").question == (
        "Was table authors renamed to writers?"
    )


def _people(column: str, length: int = 100) -> sa.MetaData:
    metadata = sa.MetaData()
    sa.Table(
        "people",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(column, sa.String(length), nullable=False),
        sa.Column("age", sa.Integer, nullable=True),
    )
    return metadata


async def test_interactive_answer_through_the_api(migration_url: str, tmp_path: Path) -> None:
    directory = migrations.init(tmp_path / "db_migrations")
    await migrations.makemigrations(migration_url, _people("fullname"), directory, message="a")
    await migrations.migrate(migration_url, None, directory)
    asked: list[Rename] = []

    def ask(rename: Rename) -> bool:
        asked.append(rename)
        return True

    # The column also gets longer: the rename carries the type change along.
    path = await migrations.makemigrations(
        migration_url, _people("name", 200), directory, message="b", ask=ask
    )
    assert asked == [Rename("people", "fullname", "name")]  # "age" is untouched: not asked
    assert path is not None and "new_column_name='name'" in path.read_text()
    await migrations.migrate(migration_url, None, directory)
    await migrations.check(migration_url, _people("name", 200), directory)


TERMINAL_COMMAND = ("--models", "app_models:metadata", "makemigrations", "-m", "rename")


def _answer_on_a_terminal(project: Project, answer: bytes) -> subprocess.CompletedProcess[str]:
    """Run ``makemigrations`` with a pseudo-terminal as stdin, the answer already typed."""
    controller, terminal = pty.openpty()
    try:
        os.write(controller, answer)
        return subprocess.run(
            [sys.executable, "-m", "migrations", *TERMINAL_COMMAND],
            cwd=project.path,
            env={**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": project.url},
            stdin=terminal,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        os.close(controller)
        os.close(terminal)


@pytest.mark.backends("sqlite")  # the question is the same on every backend
async def test_the_question_on_a_terminal(project: Project) -> None:
    project.write_models(PEOPLE.format(column="fullname"))
    await project.migrated()
    project.write_models(PEOPLE.format(column="name"))
    # Just Enter, or anything but yes or no, asks again: there is no default.
    result = _answer_on_a_terminal(project, b"\nmaybe\ny\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Was people.fullname renamed to people.name? [y/n]") == 3
    assert result.stdout.count("Please answer y or n.") == 2
    assert "new_column_name='name'" in project.created(result).read_text()
    assert "warning" not in result.stderr


@pytest.mark.backends("sqlite")
async def test_no_answer_on_a_terminal_writes_nothing(project: Project) -> None:
    project.write_models(PEOPLE.format(column="fullname"))
    await project.migrated()
    project.write_models(PEOPLE.format(column="name"))
    result = _answer_on_a_terminal(project, b"\x04")  # Ctrl-D
    assert result.returncode == 1
    assert result.stderr == (
        "error: no answer to 'Was people.fullname renamed to people.name?': nothing was written\n"
    )
    assert len(project.revisions()) == 1


def _table(name: str) -> sa.MetaData:
    metadata = sa.MetaData(naming_convention={"pk": "pk_%(table_name)s"})
    sa.Table(
        name,
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
    )
    return metadata


async def test_a_table_rename_asked_through_the_api(migration_url: str, tmp_path: Path) -> None:
    directory = migrations.init(tmp_path / "db_migrations")
    await migrations.makemigrations(migration_url, _table("authors"), directory, message="a")
    await migrations.migrate(migration_url, None, directory)
    asked: list[Rename] = []

    def ask(rename: Rename) -> bool:
        asked.append(rename)
        return True

    path = await migrations.makemigrations(
        migration_url, _table("writers"), directory, message="b", ask=ask
    )
    assert asked == [Rename.of_table("authors", "writers")]
    assert path is not None and "op.rename_table('authors', 'writers')" in path.read_text()
    await migrations.migrate(migration_url, None, directory)
    await migrations.check(migration_url, _table("writers"), directory)


@pytest.mark.backends("sqlite")  # argument checking and messages: the same on every backend
async def test_table_renames_that_match_nothing_or_cannot_be_asked(project: Project) -> None:
    project.write_models(PEOPLE.format(column="name"))
    await project.migrated()
    project.write_models(PEOPLE.format(column="name").replace('"people"', '"persons"'))
    assert project.fail("makemigrations", "-m", "x", "--rename", "humans=persons") == (
        "error: --rename humans=persons: no table 'humans' is dropped"
    )
    assert project.fail("makemigrations", "-m", "x", "--rename", "people=humans") == (
        "error: --rename people=humans: no table 'humans' is created"
    )
    assert project.fail("makemigrations", "-m", "x") == (
        "error: table people may have been renamed to persons, and there is no terminal to "
        "ask: run again with --rename people=persons to keep its data, or with --no-input to "
        "drop it and create persons (nothing was written)"
    )
    dropped = project.cli("makemigrations", "-m", "x", "--no-input")
    assert (
        "warning: table people is dropped: its data will be lost (if it was renamed, run again "
        "with --rename people=persons)"
    ) in dropped.stderr
