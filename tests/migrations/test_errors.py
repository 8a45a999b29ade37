"""Every error is one line on stderr and a non-zero exit status, never a traceback."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import migrations
from asyncdb import Database
from migrations import MigrationError
from migrations.cli import main

if TYPE_CHECKING:
    from conftest import Project

MODELS = """
import sqlalchemy as sa

metadata = sa.MetaData()
sa.Table("things", metadata, sa.Column("id", sa.Integer, primary_key=True))
"""


@pytest.fixture
def workdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Path:
    """A working directory holding a uniquely named model module, on ``sys.path``."""
    module = f"models_{request.node.name.replace('[', '_').replace(']', '').replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(MODELS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    monkeypatch.setattr("sys.stdin.isatty", lambda: False, raising=False)
    (tmp_path / "module_name").write_text(module)
    return tmp_path


def _models(workdir: Path) -> str:
    return (workdir / "module_name").read_text() + ":metadata"


def one_line(capsys: pytest.CaptureFixture[str], *args: str, status: int = 1) -> str:
    """Run the command line in-process; assert it failed with one stderr line; return it."""
    assert main(list(args)) == status
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def ok(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(list(args)) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def test_bad_models_paths(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ok(capsys, "init")
    assert one_line(capsys, "--models", "nowhere:metadata", "makemigrations", "-m", "x") == (
        "error: cannot import 'nowhere' (from --models 'nowhere:metadata'): "
        "ModuleNotFoundError: No module named 'nowhere'"
    )
    module = _models(workdir).partition(":")[0]
    line = one_line(capsys, "--models", f"{module}:registry", "makemigrations", "-m", "x")
    assert line == f"error: --models '{module}:registry': '{module}' has no attribute 'registry'"
    line = one_line(capsys, "--models", module, "makemigrations", "-m", "x")
    assert "must name a module attribute as 'package.module:attribute'" in line
    (workdir / "broken_models.py").write_text("import sqlalchemy as sa\n\nmetadata = sa.Nope()\n")
    line = one_line(capsys, "--models", "broken_models:metadata", "check")
    assert line.startswith("error: cannot import 'broken_models'")
    assert "AttributeError" in line
    line = one_line(capsys, "--models", f"{module}:sa", "check")
    assert "neither an orm.ModelRegistry nor a sqlalchemy.MetaData" in line


def test_missing_settings(workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    assert "no migrations folder at" in one_line(capsys, "migrate")
    ok(capsys, "init")
    assert "already exists and is not empty" in one_line(capsys, "init")
    monkeypatch.delenv("DATABASE_URL")
    assert one_line(capsys, "migrate").startswith("error: no database URL: pass --url")
    assert one_line(capsys, "--url", "sqlite:///x.db", "check").startswith("error: no models")
    line = one_line(capsys, "--url", "oracle://scott:tiger@db/x", "migrate")
    assert "supported schemes" in line and "tiger" not in line
    assert one_line(capsys, "frobnicate", status=2).startswith("error: argument COMMAND")
    assert "required: -m/--message" in one_line(capsys, "makemigrations", status=2)


def test_unreachable_database_hides_the_password(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ok(capsys, "init")
    line = one_line(capsys, "--url", "postgresql://app:s3cret@127.0.0.1:1/app", "migrate")
    assert line.startswith("error: cannot connect to postgresql+asyncpg://app:***@127.0.0.1:1/app")
    assert "s3cret" not in line


def test_revisions_unknown_behind_and_branched(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = _models(workdir)
    ok(capsys, "--models", models, "init")
    assert one_line(capsys, "migrate", "deadbeef") == (
        "error: Can't locate revision identified by 'deadbeef'"
    )
    assert "Created" in ok(capsys, "--models", models, "makemigrations", "-m", "things")
    line = one_line(capsys, "--models", models, "makemigrations", "-m", "again")
    assert line.startswith("error: the database is not at the latest revision: run migrate first")
    ok(capsys, "migrate")
    assert "Relative revision -2 didn't produce 2 migrations" in one_line(capsys, "downgrade", "-2")

    # A second revision on the same parent: two heads, as after merging two branches in git.
    ok(capsys, "makemigrations", "--empty", "-m", "one")
    (branch,) = (workdir / "db_migrations" / "versions").glob("*_one.py")
    twin = branch.read_text().replace(branch.name.split("-")[1][:12], "bbbbbbbbbbbb")
    (branch.parent / "bbbbbbbbbbbb_two.py").write_text(twin.replace('"""one', '"""two'))
    line = one_line(capsys, "migrate")
    assert line.startswith("error: the migrations have 2 heads (")
    assert line.endswith("run `merge` to join them before `migrate`")
    assert "2 heads" in one_line(capsys, "--models", models, "makemigrations", "-m", "x")
    line = one_line(capsys, "--models", models, "check")
    assert line.startswith("error: the migrations have 2 heads (")
    assert "bbbbbbbbbbbb" in line and line.endswith("run `merge` to join them before `check`")
    assert "Created" in ok(capsys, "merge", "-m", "join")
    assert "nothing to merge" in one_line(capsys, "merge")
    assert ok(capsys, "migrate").count("Applied") == 3


async def test_failing_revision_names_its_step(migration_url: str, tmp_path: Path) -> None:
    directory = migrations.init(tmp_path / "db_migrations")
    path = await migrations.makemigrations(
        migration_url, None, directory, message="bad", empty=True
    )
    assert path is not None
    body = (
        "op.create_table('early', sa.Column('id', sa.Integer, primary_key=True))\n"
        "    op.execute('SELECT * FROM no_such_table')"
    )
    path.write_text(
        path.read_text().replace(
            "def upgrade() -> None:\n    pass", f"def upgrade() -> None:\n    {body}", 1
        )
    )
    with pytest.raises(MigrationError) as failure:
        await migrations.migrate(migration_url, None, directory)
    message = str(failure.value)
    assert "\n" not in message
    assert message.startswith("revision step 'upgrade  -> ")
    assert ", bad' failed: " in message
    assert "no_such_table" in message
    assert "[while running: SELECT * FROM no_such_table]" in message
    statuses = await migrations.showmigrations(migration_url, directory)
    assert [s.applied for s in statuses] == [False]
    async with Database(migration_url) as database:
        tables = await database.fetch_all(
            "SELECT 1 FROM information_schema.tables WHERE table_name = 'early'"
            if not migration_url.startswith("sqlite")
            else "SELECT 1 FROM sqlite_master WHERE name = 'early'"
        )
    if migration_url.startswith("mysql"):  # DDL commits at once: the message names what stayed
        assert "1 statement of this revision before the failing one stayed applied: " in message
        assert "CREATE TABLE early" in message
        assert len(tables) == 1
    else:  # transactional DDL (SQLite too): the table was rolled back with the revision
        assert "stayed applied" not in message
        assert tables == []


@pytest.mark.backends("sqlite")
def test_command_line_in_a_real_process(project: Project) -> None:
    """The same one-line promise holds for the real ``python -m migrations`` process."""
    project.write_models("")
    project.cli("init")
    line = project.fail("--models", "missing_module:metadata", "makemigrations", "-m", "x")
    assert line.startswith("error: cannot import 'missing_module'")
    shutil.rmtree(project.path / "db_migrations")
    assert project.fail("showmigrations").startswith("error: no migrations folder at")


def test_sqlmigrate_runs_nothing(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    models = _models(workdir)
    ok(capsys, "init")
    ok(capsys, "--models", models, "makemigrations", "-m", "things")
    # Offline: the dialect comes from the URL, the server is never contacted.
    out = ok(capsys, "--url", "postgresql://nobody:pw@127.0.0.1:1/none", "sqlmigrate", "head")
    assert "CREATE TABLE things" in out
    assert "Applied" not in out
    ok(capsys, "migrate")
    # Changing a column's type needs SQLite's batch mode, which needs the live table.
    module = workdir / f"{models.partition(':')[0]}.py"
    module.write_text(
        MODELS.replace("sa.Integer, primary_key=True", "sa.BigInteger, primary_key=True")
    )
    monkeypatch.delitem(sys.modules, module.stem)  # import the changed models afresh
    ok(capsys, "--models", models, "makemigrations", "-m", "bigger")
    line = one_line(capsys, "sqlmigrate", "head")
    assert line.startswith("error: sqlmigrate cannot show revision head for SQLite")


def test_settings_from_pyproject(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With [tool.migrations] filled in, the commands need no flags at all."""
    (workdir / "pyproject.toml").write_text(
        f'[tool.migrations]\nmodels = "{_models(workdir)}"\ndir = "schema"\n'
    )
    assert "schema" in ok(capsys, "init")
    assert "Created" in ok(capsys, "makemigrations", "-m", "things")
    assert "Applied" in ok(capsys, "migrate")
    assert ok(capsys, "makemigrations", "-m", "nothing") == "No changes detected\n"
    assert "No migrations to apply." in ok(capsys, "migrate")
    assert "agree" in ok(capsys, "check")
    assert (workdir / "schema" / "env.py").is_file()
    (workdir / "pyproject.toml").write_text('[tool.migrations]\nmodel = "x:y"\n')
    assert "unknown key(s) model in [tool.migrations]" in one_line(capsys, "check")
