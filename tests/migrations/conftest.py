"""Fixtures for the migrations suite: a private database per test, a project folder.

The PostgreSQL and MariaDB ``test`` databases are shared with the other suites of the same
pytest session, and autogenerate compares the *whole* database with the models. So every test
here gets a database of its own (``CREATE DATABASE mig_<random>``, dropped afterwards); on SQLite,
the file in the test's temporary directory already is one.
"""

from __future__ import annotations

import os
import re
import runpy
import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

import migrations
from migrations.config import sqlalchemy_url

ROOT = Path(__file__).resolve().parents[2]

#: The naming convention the orm puts on its registry's MetaData; the test models use it too.
NAMING_CONVENTION = """{
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}"""


@dataclass
class Project:
    """A user's project folder: a model module, a migrations folder, the CLI run inside it."""

    path: Path
    url: str
    module: str = "app_models"

    def write_models(self, body: str) -> None:
        """(Re)write the model module: ``metadata`` with the naming convention, then ``body``."""
        source = (
            "import sqlalchemy as sa\n\n"
            f"metadata = sa.MetaData(naming_convention={NAMING_CONVENTION})\n\n"
            + textwrap.dedent(body)
        )
        (self.path / f"{self.module}.py").write_text(source)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``python -m migrations ARGS`` here with ``DATABASE_URL`` set; assert success."""
        env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": self.url}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        result = subprocess.run(
            [
                sys.executable,
                "-B",
                "-m",
                "migrations",
                "--models",
                f"{self.module}:metadata",
                *args,
            ],
            cwd=self.path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check:
            assert result.returncode == 0, result.stderr
            assert "Traceback" not in result.stderr
        return result

    def fail(self, *args: str) -> str:
        """Run the CLI expecting failure: one line on stderr, no traceback; return that line."""
        result = self.cli(*args, check=False)
        assert result.returncode != 0, result.stdout
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "Traceback" not in result.stderr
        return lines[0]

    def make(self, *args: str) -> Path:
        """Run ``makemigrations ARGS``; return the path of the revision it wrote."""
        return self.created(self.cli("makemigrations", *args))

    @staticmethod
    def created(result: subprocess.CompletedProcess[str]) -> Path:
        """The revision file a ``makemigrations`` run reports on stdout."""
        created = re.findall(r"Created (.+?\.py): review it", result.stdout)
        assert len(created) == 1, result.stdout
        return Path(created[0])

    async def migrated(self, message: str = "initial") -> Path:
        """``init``, ``makemigrations`` and ``migrate`` the current models, in-process (fast)."""
        metadata = runpy.run_path(str(self.path / f"{self.module}.py"))["metadata"]
        directory = migrations.init(self.path / "db_migrations")
        await migrations.makemigrations(self.url, metadata, directory, message=message)
        await migrations.migrate(self.url, None, directory)
        return directory

    def revisions(self) -> list[Path]:
        """The revision files, oldest first."""
        return sorted((self.path / "db_migrations" / "versions").glob("*.py"))

    async def sql(self, statement: str, values: dict[str, object] | None = None) -> list[tuple]:
        """Run one statement on the project's database (committed); return its rows."""
        engine = create_async_engine(sqlalchemy_url(self.url))
        try:
            async with engine.begin() as connection:
                result = await connection.execute(sa.text(statement), values or {})
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            await engine.dispose()


async def _admin(url: str, statement: str) -> None:
    engine = create_async_engine(sqlalchemy_url(url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(sa.text(statement))
    finally:
        await engine.dispose()


@pytest.fixture
async def migration_url(backend: str, database_url: str) -> AsyncIterator[str]:
    """An asyncdb URL of an empty database that only this test uses."""
    if backend == "sqlite":
        yield database_url
        return
    name = f"mig_{uuid.uuid4().hex[:12]}"
    await _admin(database_url, f"CREATE DATABASE {name}")
    try:
        yield sa.make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        force = " WITH (FORCE)" if backend == "postgresql" else ""
        await _admin(database_url, f"DROP DATABASE IF EXISTS {name}{force}")


@pytest.fixture
def project(tmp_path: Path, migration_url: str) -> Project:
    folder = tmp_path / "project"
    folder.mkdir()
    return Project(folder, migration_url)
