"""The schema comes from running a migrations folder (``asyncdb_migrations_dir``).

On the servers each test migrates a database of its own: the migrations' ``alembic_version``
table must not meet another suite's in the shared ``test`` database.
"""

from __future__ import annotations

import asyncio

import pytest

import migrations
from tests.plugin.conftest import Project, table_names

REVISION = '''
"""create the note table

Revision ID: plg0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "plg0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "{prefix}note",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("text", sa.String(50), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("{prefix}note")
'''

NOTE_MODEL = """
import orm

models = orm.ModelRegistry()


class Note(orm.Model):
    registry = models
    tablename = "{prefix}note"
    id = orm.Integer(primary_key=True)
    text = orm.String(max_length=50)
"""

TESTS = """
import asyncio
import os

from plg_notes import Note


async def test_schema_is_migrated(asyncdb_database):
    assert await Note.objects.count() == 0
    version = await asyncdb_database.fetch_val("SELECT version_num FROM alembic_version")
    assert version == os.environ.get("PLG_HEAD", "plg0001")
    async with asyncdb_database.transaction():
        await asyncio.gather(*(Note.objects.create(text=str(i)) for i in range(3)))
    assert await Note.objects.count() == 3


async def test_rolled_back(asyncdb_database):
    assert await Note.objects.count() == 0
    await asyncdb_database.execute("INSERT INTO {prefix}note (text) VALUES ('raw')")
"""


@pytest.fixture
def private_project(private_url: str, project: Project) -> Project:
    """``project`` on a database of its own (``project`` ends first, while it still exists)."""
    project.url = private_url
    return project


def _write_project(project: Project) -> None:
    migrations.init(project.pytester.path / "db_migrations")
    project.write("db_migrations/versions/plg0001_create_note.py", REVISION)
    project.write("plg_notes.py", NOTE_MODEL)
    project.write(
        "conftest.py",
        """
        import pytest


        @pytest.fixture(scope="session")
        def asyncdb_registry():
            from plg_notes import models

            return models
        """,
    )
    project.write("test_plg_notes.py", TESTS)
    project.write("test_plg_notes_again.py", TESTS)


def test_schema_from_migrations(private_project: Project) -> None:
    project = private_project
    _write_project(project)
    project.write_ini("asyncdb_migrations_dir = db_migrations")
    project.run().assert_outcomes(passed=4)
    # The session created the table and the version table: both are gone.
    assert table_names(project.url) == set()


def test_migrations_dir_fixture_override(private_project: Project) -> None:
    project = private_project
    _write_project(project)
    project.write_ini()
    with open(project.pytester.path / "conftest.py", "a") as conftest:
        conftest.write(
            "\n\n@pytest.fixture(scope='session')\n"
            "def asyncdb_migrations_dir(pytestconfig):\n"
            "    return pytestconfig.rootpath / 'db_migrations'\n"
        )
    project.run().assert_outcomes(passed=4)
    assert table_names(project.url) == set()


SECOND_REVISION = '''
"""add the tag table

Revision ID: plg0002
Revises: plg0001
"""

import sqlalchemy as sa
from alembic import op

revision = "plg0002"
down_revision = "plg0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("{prefix}tag", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    op.drop_table("{prefix}tag")
'''


def test_database_already_migrated_stays_migrated(
    private_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database that was at some revision is brought to the latest and left there."""
    project = private_project
    monkeypatch.setenv("PLG_HEAD", "plg0002")
    _write_project(project)
    project.write_ini("asyncdb_migrations_dir = db_migrations")
    directory = project.pytester.path / "db_migrations"
    asyncio.run(migrations.migrate(project.url, None, directory))  # at plg0001 beforehand
    project.write("db_migrations/versions/plg0002_add_tag.py", SECOND_REVISION)
    project.run().assert_outcomes(passed=4)
    assert table_names(project.url) == {"alembic_version", f"{project.prefix}note",
                                        f"{project.prefix}tag"}  # fmt: skip
    statuses = asyncio.run(migrations.showmigrations(project.url, directory))
    assert [(s.revision, s.applied) for s in statuses] == [("plg0001", True), ("plg0002", True)]


@pytest.mark.backends("sqlite")
def test_in_memory_sqlite_cannot_be_migrated(project: Project) -> None:
    project.url = "sqlite:///:memory:"
    _write_project(project)
    project.write_ini("asyncdb_migrations_dir = db_migrations")
    result = project.run()
    result.assert_outcomes(errors=4)
    result.stdout.fnmatch_lines(
        ["*asyncdb: migrations run on a connection of their own, which cannot see an in-memory*"]
    )


@pytest.mark.backends("sqlite")
def test_broken_migration_is_one_clear_error(project: Project) -> None:
    _write_project(project)
    project.write(
        "db_migrations/versions/plg0001_create_note.py",
        REVISION.replace("def upgrade() -> None:", "def upgrade() -> None:\n    1 / 0"),
    )
    project.write_ini("asyncdb_migrations_dir = db_migrations")
    result = project.run()
    result.assert_outcomes(errors=4)
    result.stdout.fnmatch_lines(
        [
            "asyncdb: migrating sqlite:///*db_migrations failed: revision step "
            "'upgrade  -> plg0001, create the note table' failed: ZeroDivisionError: *"
        ]
    )
    assert "Traceback" not in result.stdout.str()
