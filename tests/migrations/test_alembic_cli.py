"""The plain ``alembic`` command line on a migrations folder (the documented subset)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

from conftest import ROOT

if TYPE_CHECKING:
    from conftest import Project

MODELS = """
people = sa.Table(
    "people",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
)
"""


def _alembic(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": project.url}
    return subprocess.run(
        [sys.executable, "-m", "alembic", "-c", "db_migrations/alembic.ini", *args],
        cwd=project.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_current_upgrade_downgrade_history(project: Project) -> None:
    (project.path / "pyproject.toml").write_text(
        '[tool.migrations]\nmodels = "app_models:metadata"\n'
    )
    project.write_models(MODELS)
    assert "alembic.ini" in project.cli("init").stdout
    revision = project.make("-m", "people").name.split("-")[1].split("_")[0]

    assert _alembic(project, "current").stdout == ""
    upgraded = _alembic(project, "upgrade", "head")
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"INFO  [alembic.runtime.migration] Running upgrade  -> {revision}, people" in (
        upgraded.stderr  # as any Alembic folder says it; it said nothing
    )
    await project.sql("INSERT INTO people (name) VALUES ('Ann')")
    assert _alembic(project, "current").stdout.strip() == f"{revision} (head)"
    assert _alembic(project, "history").stdout.strip() == f"<base> -> {revision} (head), people"
    assert "agree" in project.cli("check").stdout  # the same database python -m migrations sees

    downgraded = _alembic(project, "downgrade", "-1")
    assert downgraded.returncode == 0, downgraded.stderr
    assert _alembic(project, "current").stdout == ""
    assert "[ ]" in project.cli("showmigrations").stdout


async def test_autogenerate_and_failures_are_one_clear_line(project: Project) -> None:
    (project.path / "pyproject.toml").write_text(
        '[tool.migrations]\nmodels = "app_models:metadata"\n'
    )
    project.write_models(MODELS)
    project.cli("init")
    refused = _alembic(project, "revision", "--autogenerate", "-m", "x")
    assert refused.returncode != 0
    assert "Traceback" not in refused.stderr  # Alembic prints its FAILED line on stdout
    assert refused.stdout.startswith("FAILED: alembic revision --autogenerate skips")
    assert "run `python -m migrations makemigrations` instead" in refused.stdout
    assert list((project.path / "db_migrations" / "versions").glob("*.py")) == []

    path = project.make("-m", "people")
    broken = "op.execute('BROKEN SQL')\n    op.create_table("
    path.write_text(path.read_text().replace("op.create_table(", broken, 1))
    failed = _alembic(project, "upgrade", "head")
    assert failed.returncode != 0
    assert "Traceback" not in failed.stderr
    (line,) = failed.stdout.splitlines()
    assert line.startswith("FAILED: revision step 'upgrade  -> ") and "BROKEN SQL" in line
