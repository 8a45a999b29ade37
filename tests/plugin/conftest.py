"""Fixtures for the pytest plugin's tests: throwaway test projects run by ``pytester``.

Each test writes a small project (models, ``pytest.ini``, test files) and runs pytest on it,
in process (fast), against the parametrised backend. Table names start with ``plg_<random>_``
so runs sharing the PostgreSQL/MariaDB ``test`` databases never meet; the plugin drops the
tables it created, and these tests check that it did.

In process, two things need care. The project's modules are named ``plg_*``/``test_plg_*``: a
name this suite already imported (``test_models``) would clash. And the drivers are imported
here first: ``pytester`` removes the modules a run imported when it ends, and importing
asyncpg's C extension a second time in one process crashes it.

``pytester`` is loaded from ``pytest_configure`` because ``pytest_plugins`` is only allowed in
the top-level conftest. The plugin itself is passed with ``-p`` until the package's ``pytest11``
entry point is installed (passing it as well would register it twice, which pytest refuses).
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

import orm
from asyncdb import Database
from tests.conftest import BACKENDS, server_url
from tests.plugin.plugin_models import notes

# Imported for their side effect: loaded once, before pytester's module snapshots (see above).
for _module in (
    "aiomysql",
    "aiosqlite",
    "asyncpg",
    "migrations",
    "pytest_asyncdb.plugin",
    "sqlalchemy.dialects.mysql.aiomysql",
    "sqlalchemy.dialects.postgresql.asyncpg",
    "sqlalchemy.dialects.sqlite.aiosqlite",
):
    importlib.import_module(_module)

PLUGIN = "pytest_asyncdb.plugin"
ENTRY_POINT_INSTALLED = any(
    ep.value == PLUGIN for ep in importlib.metadata.entry_points(group="pytest11")
)
PLUGIN_ARGS: tuple[str, ...] = () if ENTRY_POINT_INSTALLED else ("-p", PLUGIN)


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")


def plugin_loaded(config: pytest.Config) -> bool:
    return any(
        getattr(plugin, "__name__", None) == PLUGIN for plugin in config.pluginmanager.get_plugins()
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # test_project_fixtures.py uses the plugin's fixtures directly: it runs when the plugin is
    # loaded in this session (entry point installed, or -p pytest_asyncdb.plugin).
    if plugin_loaded(config):
        return
    skip = pytest.mark.skip(
        reason=f"{PLUGIN} is not loaded: reinstall the package (pip install -e .) so its "
        f"pytest11 entry point exists, or pass -p {PLUGIN}"
    )
    for item in items:
        if item.path.name == "test_project_fixtures.py":
            item.add_marker(skip)


def table_names(url: str) -> set[str]:
    """The tables in ``url``'s database now (read on a connection of its own)."""

    async def read() -> set[str]:
        engine = create_async_engine(Database(url).sqlalchemy_url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                names = await connection.run_sync(lambda c: sa.inspect(c).get_table_names())
        finally:
            await engine.dispose()
        return set(names)

    return asyncio.run(read())


def run_sql(url: str, *statements: str) -> list[tuple[object, ...]]:
    """Run ``statements`` in one committed transaction; return the last one's rows."""

    async def run() -> list[tuple[object, ...]]:
        engine = create_async_engine(Database(url).sqlalchemy_url, poolclass=NullPool)
        rows: list[tuple[object, ...]] = []
        try:
            async with engine.begin() as connection:
                for statement in statements:
                    result = await connection.execute(sa.text(statement))
                    rows = [tuple(row) for row in result] if result.returns_rows else []
        finally:
            await engine.dispose()
        return rows

    return asyncio.run(run())


MODELS = """
import orm

models = orm.ModelRegistry()


class Author(orm.Model):
    registry = models
    tablename = "{prefix}author"
    id = orm.Integer(primary_key=True)
    name = orm.String(max_length=50, unique=True)


class Book(orm.Model):
    registry = models
    tablename = "{prefix}book"
    id = orm.Integer(primary_key=True)
    title = orm.String(max_length=100)
    author = orm.ForeignKey(Author, related_name="books", on_delete=orm.CASCADE)
"""


@dataclass
class Project:
    """A user's test project in ``pytester``'s folder, run with the plugin on ``url``."""

    pytester: pytest.Pytester
    url: str
    prefix: str = field(default_factory=lambda: f"plg_{uuid.uuid4().hex[:8]}_")

    def write_models(self) -> None:
        """``plg_models.py``: registry ``models`` with ``Author`` and ``Book`` (FK)."""
        self.write("plg_models.py", MODELS.format(prefix=self.prefix))

    def write_ini(self, *lines: str) -> None:
        options = "\n".join(lines)
        self.write(
            "pytest.ini",
            "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
            f"pythonpath = .\n{options}\n",
        )

    def write(self, name: str, source: str) -> None:
        path = self.pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = textwrap.dedent(source).lstrip()
        path.write_text(text.replace("{prefix}", self.prefix).replace("{url}", self.url))

    def run(self, *args: str, url: bool = True) -> pytest.RunResult:
        """Run pytest on the project (with ``--asyncdb-url`` unless ``url=False``)."""
        given = (f"--asyncdb-url={self.url}",) if url else ()
        return self.pytester.runpytest_inprocess(
            *PLUGIN_ARGS,
            "-p",
            "no:cacheprovider",
            # The plugin was imported above, before the run could rewrite its asserts.
            "-W",
            "ignore::pytest.PytestAssertRewriteWarning",
            # Hypothesis' plugin imports all of Hypothesis at the end of every run (seconds).
            "-p",
            "no:hypothesispytest",
            *given,
            *args,
        )

    def tables(self) -> set[str]:
        """This project's tables that exist in the database now."""
        return {name for name in table_names(self.url) if name.startswith(self.prefix)}

    def drop_leftovers(self) -> None:
        """Drop this project's tables (a failed test may have left some behind)."""
        left = self.tables()
        if left:
            statements = [f"DROP TABLE IF EXISTS {name}" for name in sorted(left, reverse=True)]
            run_sql(self.url, *statements)


@pytest.fixture
def project(
    pytester: pytest.Pytester, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Project]:
    """A test project on the parametrised backend, with no URL in the environment."""
    monkeypatch.delenv("ASYNCDB_TEST_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    created = Project(pytester, database_url)
    try:
        yield created
    finally:
        created.drop_leftovers()


# -- the plugin's own fixtures, overridden for test_project_fixtures.py ---------------------------


@pytest.fixture(scope="session", params=BACKENDS)
def asyncdb_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The plugin's URL fixture, overridden: one session-wide database per backend."""
    backend: str = request.param
    if backend == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('plugin') / 'fixtures.db'}"
    return server_url(backend)


@pytest.fixture(scope="session")
def asyncdb_registry() -> orm.ModelRegistry:
    """The plugin's registry fixture, overridden to return this module's registry."""
    return notes


def _admin(url: str, statement: str) -> None:
    async def run() -> None:
        async with Database(url, min_size=0, max_size=1) as admin:
            await admin.execute(statement)

    asyncio.run(run())


@pytest.fixture
def private_url(backend: str, database_url: str) -> Iterator[str]:
    """A URL of an empty database only this test uses (migrations own ``alembic_version``)."""
    if backend == "sqlite":
        yield database_url
        return
    name = f"plg_{uuid.uuid4().hex[:12]}"
    _admin(database_url, f"CREATE DATABASE {name}")
    try:
        yield sa.make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        force = " WITH (FORCE)" if backend == "postgresql" else ""
        _admin(database_url, f"DROP DATABASE IF EXISTS {name}{force}")
