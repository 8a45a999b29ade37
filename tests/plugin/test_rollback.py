"""Each test's changes are rolled back: plain writes, child tasks, transactions (savepoints).

Every generated test first asserts that the tables are empty, then writes: whatever order they
run in, each one proves the others' writes were rolled back. The schema comes from the registry
(named by the ini option, or returned by an overridden fixture) and is gone after the session.
"""

from __future__ import annotations

import asyncio

import pytest

import asyncdb
from asyncdb import DatabaseURL
from tests.plugin.conftest import Project, run_sql

ROLLBACK_TESTS = """
import asyncio

import pytest

import asyncdb
from plg_models import Author, Book, models


async def counts():
    return await Author.objects.count(), await Book.objects.count()


async def test_plain_writes(asyncdb_database):
    assert await counts() == (0, 0)
    ann = await Author.objects.create(name="Ann")
    await Book.objects.create(title="Dune", author=ann)
    await asyncdb_database.execute(
        "INSERT INTO {prefix}author (name) VALUES (:name)", {"name": "Raw"}
    )
    assert await counts() == (2, 1)


async def test_child_tasks(asyncdb_database):
    assert await counts() == (0, 0)
    await asyncio.gather(*(Author.objects.create(name=f"gather{i}") for i in range(5)))
    await asyncio.create_task(Author.objects.create(name="task"))
    async with asyncio.TaskGroup() as group:
        for i in range(3):
            group.create_task(Author.objects.create(name=f"group{i}"))
    assert await Author.objects.count() == 9


async def test_transactions_are_savepoints(asyncdb_database):
    assert await counts() == (0, 0)
    async with asyncdb_database.transaction():
        ann = await Author.objects.create(name="Ann")
        async with asyncio.TaskGroup() as group:
            for i in range(3):
                group.create_task(Book.objects.create(title=f"b{i}", author=ann))
    with pytest.raises(RuntimeError):
        async with asyncdb_database.transaction():
            await Author.objects.create(name="Gone")
            raise RuntimeError("rolls back to the savepoint only")
    tx = await asyncdb_database.transaction().start()
    await Author.objects.create(name="Committed")
    await tx.commit()
    assert sorted(await Author.objects.values_list("name", flat=True)) == ["Ann", "Committed"]
    assert await Book.objects.count() == 3


async def test_expected_error_inside_a_savepoint(asyncdb_database):
    assert await counts() == (0, 0)
    await Author.objects.create(name="Ann")
    with pytest.raises(asyncdb.IntegrityError):
        async with asyncdb_database.transaction():
            await Author.objects.create(name="Ann")
    # The test's transaction is still usable (on PostgreSQL too).
    assert await Author.objects.count() == 1


async def test_models_fixture(asyncdb_models, asyncdb_database):
    assert asyncdb_models is models
    assert models.database is asyncdb_database
    assert await counts() == (0, 0)
    await Author.objects.create(name="Models")


def test_registry_unbound_between_tests():
    assert models.database is None
"""

REGISTRY_FIXTURE = """
import pytest


@pytest.fixture(scope="session")
def asyncdb_registry():
    from plg_models import models

    return models
"""


@pytest.mark.parametrize("configured_by", ["ini", "fixture"])
def test_changes_are_rolled_back(project: Project, configured_by: str) -> None:
    project.write_models()
    if configured_by == "ini":
        project.write_ini("asyncdb_registry = plg_models:models")
    else:
        project.write_ini()
        project.write("conftest.py", REGISTRY_FIXTURE)
    project.write("test_plg_rollback.py", ROLLBACK_TESTS)
    # Twice over, so each test also runs after every other one has written.
    project.write("test_plg_rollback_again.py", ROLLBACK_TESTS)
    result = project.run()
    result.assert_outcomes(passed=12)
    assert project.tables() == set(), "the tables the session created are dropped at its end"


STRICT_TESTS = """
import pytest

from plg_models import Author


@pytest.mark.asyncio
async def test_write(asyncdb_database):
    assert await Author.objects.count() == 0
    await Author.objects.create(name="strict")


@pytest.mark.asyncio
async def test_write_again(asyncdb_models):
    assert await Author.objects.count() == 0
    await Author.objects.create(name="strict")
"""


def test_strict_mode(project: Project) -> None:
    project.write_models()
    project.write_ini("asyncdb_registry = plg_models:models")
    project.write("test_plg_strict.py", STRICT_TESTS)
    project.run("-o", "asyncio_mode=strict").assert_outcomes(passed=2)
    assert project.tables() == set()


def test_session_event_loop(project: Project) -> None:
    """Tests and fixtures on one session-wide loop: each test still gets its own Database."""
    project.write_models()
    project.write_ini("asyncdb_registry = plg_models:models")
    project.write("test_plg_strict.py", STRICT_TESTS)
    result = project.run(
        "-o",
        "asyncio_default_fixture_loop_scope=session",
        "-o",
        "asyncio_default_test_loop_scope=session",
    )
    result.assert_outcomes(passed=2)


@pytest.mark.backends("sqlite")
def test_in_memory_sqlite(project: Project) -> None:
    """``sqlite:///:memory:``: each test's database creates the tables inside its transaction."""
    project.url = "sqlite:///:memory:"
    project.write_models()
    project.write_ini("asyncdb_registry = plg_models:models")
    project.write("test_plg_rollback.py", ROLLBACK_TESTS)
    project.run().assert_outcomes(passed=6)


PREEXISTING_TESTS = """
from plg_models import Author, Book


async def test_existing_rows_are_seen(asyncdb_database):
    assert await Author.objects.values_list("name", flat=True) == ["Kept"]
    await Author.objects.create(name="Ann")
    assert await Book.objects.count() == 0


async def test_and_left_alone(asyncdb_database):
    assert await Author.objects.count() == 1
"""


def test_tables_that_existed_are_kept(project: Project) -> None:
    """A table the session did not create is used as it is and survives the session."""
    author = f"{project.prefix}author"
    project.write_models()
    project.write_ini("asyncdb_registry = plg_models:models")
    project.write("test_plg_existing.py", PREEXISTING_TESTS)
    # The table the Author model declares, created beforehand, with a row in it.
    run_sql(
        project.url,
        f"CREATE TABLE {author} (id INTEGER NOT NULL PRIMARY KEY {_autoincrement(project.url)}, "
        "name VARCHAR(50) NOT NULL UNIQUE)",
        f"INSERT INTO {author} (name) VALUES ('Kept')",
    )
    project.run().assert_outcomes(passed=2)
    assert project.tables() == {author}
    assert run_sql(project.url, f"SELECT name FROM {author}") == [("Kept",)]


def _autoincrement(url: str) -> str:
    if url.startswith("mysql"):
        return "AUTO_INCREMENT"
    if url.startswith("postgresql"):
        return "GENERATED BY DEFAULT AS IDENTITY"
    return ""


MORE_MODELS = """
import orm

more = orm.ModelRegistry()


class Tag(orm.Model):
    registry = more
    tablename = "{prefix}tag"
    id = orm.Integer(primary_key=True)
    name = orm.String(max_length=20)
"""

TWO_REGISTRY_TESTS = """
import pytest

from plg_models import Author, models
from plg_more import Tag, more


@pytest.mark.parametrize("run", [1, 2])
async def test_both_bound_and_rolled_back(asyncdb_database, run):
    assert models.database is more.database is asyncdb_database
    assert await Author.objects.count() == await Tag.objects.count() == 0
    await Author.objects.create(name="Ann")
    await Tag.objects.create(name="sf")


def test_models_fixture_wants_one(asyncdb_models):
    pass
"""


@pytest.mark.parametrize("configured_by", ["ini", "fixture"])
def test_several_registries(project: Project, configured_by: str) -> None:
    project.write_models()
    project.write("plg_more.py", MORE_MODELS)
    if configured_by == "ini":
        project.write_ini("asyncdb_registry = plg_models:models plg_more:more")
    else:
        project.write_ini()
        project.write(
            "conftest.py",
            """
            import pytest


            @pytest.fixture(scope="session")
            def asyncdb_registry():
                from plg_models import models
                from plg_more import more

                return [models, more]
            """,
        )
    project.write("test_plg_two.py", TWO_REGISTRY_TESTS)
    result = project.run()
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        ["asyncdb: asyncdb_models returns one registry, and 2 are configured; use *"]
    )
    assert project.tables() == set()


OTHER_PROGRAM_TESTS = """
import asyncdb


async def test_another_program_creates_a_table(asyncdb_url, asyncdb_schema):
    async with asyncdb.Database(asyncdb_url) as other:
        await other.execute("CREATE TABLE {prefix}other (id INTEGER PRIMARY KEY)")
"""


def test_only_the_registry_tables_are_dropped(project: Project) -> None:
    """Tables someone else creates in the database during the session are not the session's."""
    project.write_models()
    project.write_ini("asyncdb_registry = plg_models:models")
    project.write("test_plg_other.py", OTHER_PROGRAM_TESTS)
    project.run().assert_outcomes(passed=1)
    assert project.tables() == {f"{project.prefix}other"}


PRIVATE_DATABASE_TESTS = """
import pathlib

from asyncdb import DatabaseURL
from plg_models import Author


async def test_on_a_database_of_its_own(asyncdb_url, asyncdb_database):
    pathlib.Path("used_url.txt").write_text(asyncdb_url)
    assert await Author.objects.count() == 0
    await Author.objects.create(name="Ann")


async def test_still_rolled_back(asyncdb_database):
    assert await Author.objects.count() == 0
"""


def test_database_of_its_own(project: Project) -> None:
    """``--asyncdb-create-db``: a new database for the session, dropped at its end."""
    project.write_models()
    project.write_ini("asyncdb_registry = plg_models:models")
    project.write("test_plg_private.py", PRIVATE_DATABASE_TESTS)
    result = project.run("--asyncdb-create-db")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["asyncdb: * (from --asyncdb-url, a new database per session)"])
    used = DatabaseURL((project.pytester.path / "used_url.txt").read_text())
    configured = DatabaseURL(project.url)
    assert used.database != configured.database
    assert project.tables() == set(), "nothing was created in the configured database"
    if used.backend != "sqlite":
        assert used.database is not None
        assert used.database.startswith(f"test_{configured.database}_")
        with pytest.raises(asyncdb.DatabaseError, match="does not exist|Unknown database"):
            asyncio.run(_connect(used))  # dropped at the session's end


async def _connect(url: DatabaseURL) -> None:
    async with asyncdb.Database(url, min_size=1, max_size=1):
        pass
