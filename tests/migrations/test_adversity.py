"""Migrations attacked: concurrent runs, runs cancelled while waiting, hostile names."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

import migrations
import orm
from asyncdb import Database, IntegrityError
from migrations import Rename
from migrations.config import sqlalchemy_url
from migrations.runner import _migration_lock

if TYPE_CHECKING:
    from conftest import Project

from conftest import ROOT

MODELS = """
people = sa.Table(
    "people",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
)
pets = sa.Table(
    "pets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("owner_id", sa.ForeignKey("people.id"), nullable=False, index=True),
)
"""


async def test_replicas_migrating_at_once_take_turns(project: Project) -> None:
    """Three processes run `migrate` on one database at the same moment (SQLite too)."""
    project.write_models(MODELS)
    project.cli("init")
    scratch = f"sqlite:///{project.path / 'scratch.db'}"  # the revisions, written elsewhere
    project.make("--url", scratch, "-m", "first")
    project.cli("--url", scratch, "migrate")
    project.write_models(MODELS.replace('"name", sa.String(100)', '"name", sa.String(200)'))
    project.make("--url", scratch, "-m", "second")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": project.url}
    command = ["-m", "migrations", "--models", "app_models:metadata", "migrate"]
    runs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            *command,
            cwd=project.path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    outputs = await asyncio.gather(*(run.communicate() for run in runs))
    assert [run.returncode for run in runs] == [0, 0, 0], [err for _, err in outputs]
    applied = sorted(out.decode().count("Applied") for out, _ in outputs)
    assert applied == [0, 0, 2]  # one process applied both revisions, the others found none
    assert "agree" in project.cli("check").stdout


PEOPLE = sa.MetaData(naming_convention={"pk": "pk_%(table_name)s"})
sa.Table("people", PEOPLE, sa.Column("id", sa.Integer, primary_key=True))


async def test_a_migrate_cancelled_while_waiting_for_the_lock(
    migration_url: str, tmp_path: Path
) -> None:
    """Cancelled while another run holds the lock: nothing applied, nothing left held."""
    directory = migrations.init(tmp_path / "db_migrations")
    await migrations.makemigrations(migration_url, PEOPLE, directory, message="people")
    engine = create_async_engine(sqlalchemy_url(migration_url))
    try:
        backend_name = engine.url.get_backend_name()
        async with engine.connect() as holder, _migration_lock(holder, backend_name):
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(migrations.migrate(migration_url, None, directory), 1)
            statuses = await migrations.showmigrations(migration_url, directory)
            assert [s.applied for s in statuses] == [False]
    finally:
        await engine.dispose()
    applied = await migrations.migrate(migration_url, None, directory)
    assert [step.message for step in applied] == ["people"]


# Names a careless implementation would paste into SQL: reserved words, spaces, quotes, mixed
# case, and names long enough that the constraint names made from them must be shortened.
LONG = "a_column_name_long_enough_to_need_shortening"


def _hostile(*, after: bool) -> orm.ModelRegistry:
    models = orm.ModelRegistry()

    class Select(orm.Model):
        registry = models
        tablename = "from" if after else "select"
        order = orm.String(max_length=20, db_column="Other Case" if after else "Mixed Case")
        flag = orm.Integer(db_column='quo"ted') if after else orm.Boolean(db_column='quo"ted')
        long_one = orm.String(max_length=10, db_column=f"{LONG}_1")
        long_two = orm.String(max_length=10, db_column=f"{LONG}_2")
        if after:

            class Meta:
                unique_together = [("long_one", "long_two")]

    class Where(orm.Model):
        registry = models
        tablename = "where"
        group = orm.ForeignKey(Select, related_name="wheres", db_column="group")

    return models


async def test_hostile_names(private_database_url: str, tmp_path: Path) -> None:
    """Rename a reserved-word table and a spaced column, cast a quoted one, add a long unique."""
    directory = migrations.init(tmp_path / "db_migrations")
    before, after = _hostile(after=False), _hostile(after=True)
    async with Database(private_database_url) as db:
        before.database = after.database = db
        await migrations.makemigrations(db, before, directory, message="before")
        await migrations.migrate(db, before, directory)
        select = before.get_model("Select")
        assert select is not None
        row = await select.objects.create(order="x", flag=True, long_one="a", long_two="b")
        where = before.get_model("Where")
        assert where is not None
        await where.objects.create(group=row)
        renames = [Rename.of_table("select", "from"), Rename("from", "Mixed Case", "Other Case")]
        path = await migrations.makemigrations(
            db, after, directory, message="after", renames=renames
        )
        assert path is not None and "op.rename_table('select', 'from')" in path.read_text()
        await migrations.migrate(db, after, directory)
        await migrations.check(db, after, directory)
        model: Any = after.get_model("Select")
        renamed = await model.objects.get()
        assert (renamed.order, renamed.flag, renamed.long_one) == ("x", 1, "a")
        with pytest.raises(IntegrityError):
            await model.objects.create(order="y", flag=0, long_one="a", long_two="b")
        linked: Any = after.get_model("Where")
        assert await linked.objects.filter(group__order="x").count() == 1
        await migrations.downgrade(db, before, directory, revision="-1")
        restored: Any = before.get_model("Select")
        assert (await restored.objects.get()).flag is True
        await migrations.migrate(db, after, directory)
        await migrations.check(db, after, directory)
