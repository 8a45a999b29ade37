"""The pytest plugin: options, the report header line, and the fixtures.

Each test that asks for ``asyncdb_database`` gets a new ``Database(url, force_rollback=True)``,
connected inside the test's event loop: everything the test does — directly, in tasks it starts
(``gather``, ``create_task``, ``TaskGroup``), and in ``transaction()`` blocks, which become
savepoints — runs in one transaction that is rolled back when the test ends. The schema is
built once per session beforehand, on a worker thread with its own loop (see
``pytest_asyncdb.schema``), so it works with any pytest-asyncio loop scope and mode.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import pytest

import orm
from asyncdb import Database, DatabaseURL
from pytest_asyncdb import databases, schema, settings

T = TypeVar("T")

#: What the ``asyncdb_registry`` fixture returns: one registry, several, or none.
Registries = orm.ModelRegistry | Sequence[orm.ModelRegistry] | None

__all__ = [
    "Registries",
    "asyncdb_database",
    "asyncdb_migrations_dir",
    "asyncdb_models",
    "asyncdb_registry",
    "asyncdb_schema",
    "asyncdb_url",
    "pytest_addoption",
    "pytest_report_header",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("asyncdb", "asyncdb test database")
    group.addoption(
        settings.OPTION,
        dest="asyncdb_url",
        metavar="URL",
        default=None,
        help=(
            f"database URL for the asyncdb fixtures (default: ${settings.ENV_VAR}, the "
            f"{settings.INI_URL} ini option, then ${settings.FALLBACK_ENV_VAR})"
        ),
    )
    group.addoption(
        settings.CREATE_OPTION,
        dest="asyncdb_create_db",
        action="store_true",
        default=False,
        help="run the session on a new database test_<name>_<random> on the URL's server, "
        f"dropped at the end (ini: {settings.INI_CREATE} = true)",
    )
    parser.addini(
        settings.INI_URL,
        f"database URL for the asyncdb fixtures (after {settings.OPTION} and "
        f"${settings.ENV_VAR}, before ${settings.FALLBACK_ENV_VAR})",
        default="",
    )
    parser.addini(
        settings.INI_REGISTRY,
        "the orm.ModelRegistry whose tables the tests use, as 'package.module:attribute' "
        "(several: separated by spaces)",
        type="args",
        default=[],
    )
    parser.addini(
        settings.INI_CREATE,
        f"run the session on a database of its own, as {settings.CREATE_OPTION} does",
        type="bool",
        default=False,
    )
    parser.addini(
        settings.INI_MIGRATIONS_DIR,
        "migrations folder run to build the test schema (instead of the registry's create_all)",
        default="",
    )


def pytest_report_header(config: pytest.Config) -> str | None:
    found = settings.find_url(config)
    if found is None:
        return None
    try:
        shown = DatabaseURL(found.url).render()  # never shows a password
    except ValueError:
        shown = "(invalid URL)"
    private = ", a new database per session" if settings.create_database(config) else ""
    return f"asyncdb: {shown} (from {found.source}{private})"


def _fail(message: str) -> NoReturn:
    # Called outside the ``except`` block, so the report shows the one line and no chain.
    pytest.fail(message, pytrace=False)


def _async_fixture(func: Callable[..., AsyncIterator[Any]]) -> Any:
    """pytest-asyncio's fixture decorator, so the fixture works in its strict and auto modes.

    Without pytest-asyncio the fixture fails with what to install, instead of this plugin (loaded
    in every pytest run where the package is installed) breaking pytest at startup.
    """
    try:
        import pytest_asyncio
    except ImportError:

        def missing() -> NoReturn:
            pytest.fail(
                f"asyncdb: the {func.__name__} fixture needs pytest-asyncio "
                "(pip install pytest-asyncio)",
                pytrace=False,
            )

        missing.__doc__ = func.__doc__
        return pytest.fixture(name=func.__name__)(missing)
    return pytest_asyncio.fixture(func)


@pytest.fixture(scope="session")
def asyncdb_url(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The test database URL: ``--asyncdb-url``, ``$ASYNCDB_TEST_URL``, ini, ``$DATABASE_URL``.

    With ``--asyncdb-create-db``: the URL of a new database on that server, dropped at the end.
    """
    try:
        url = settings.require_url(pytestconfig)
    except settings.ConfigError as exc:
        error = str(exc)
    else:
        if not settings.create_database(pytestconfig):
            yield url
            return
        folder = tmp_path_factory.mktemp("asyncdb")
        test_url = _run_step(lambda: databases.create_test_database(url, folder))
        yield test_url
        _run_step(lambda: databases.drop_test_database(url, test_url))
        return
    _fail(error)


@pytest.fixture(scope="session")
def asyncdb_registry(pytestconfig: pytest.Config) -> Registries:
    """The registry named by the ``asyncdb_registry`` ini option (a list when it names several,
    ``None`` when unset).

    Override it to return your ``orm.ModelRegistry`` (or a list of them) directly.
    """
    try:
        found = settings.load_registries(pytestconfig)
    except settings.ConfigError as exc:
        error = str(exc)
    else:
        return found[0] if len(found) == 1 else (found or None)
    _fail(error)


def _registries(value: Registries) -> list[orm.ModelRegistry]:
    try:
        return settings.registries(value)
    except settings.ConfigError as exc:
        error = str(exc)
    _fail(error)


@pytest.fixture(scope="session")
def asyncdb_migrations_dir(pytestconfig: pytest.Config) -> Path | None:
    """The migrations folder named by the ``asyncdb_migrations_dir`` ini option, or ``None``.

    When set, the schema is built by migrating to the latest revision instead of ``create_all``.
    """
    try:
        return settings.migrations_dir(pytestconfig)
    except settings.ConfigError as exc:
        error = str(exc)
    _fail(error)


@pytest.fixture(scope="session")
def asyncdb_schema(
    asyncdb_url: str, asyncdb_registry: Registries, asyncdb_migrations_dir: Path | None
) -> Iterator[None]:
    """Build the schema once per session; remove what it added when the session ends.

    Override it to build the schema some other way (or not at all).
    """
    if asyncdb_migrations_dir is not None and not asyncdb_migrations_dir.is_dir():
        pytest.fail(
            f"asyncdb: the migrations folder {asyncdb_migrations_dir} does not exist",
            pytrace=False,
        )
    session = schema.SessionSchema(
        asyncdb_url, _registries(asyncdb_registry), asyncdb_migrations_dir
    )
    _run_step(session.create)
    yield
    _run_step(session.destroy)


def _run_step(step: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a schema step on its worker thread; fail the test with the step's one-line error."""
    try:
        return schema.run_in_thread(step)
    except schema.SchemaError as exc:
        error = str(exc)
    _fail(error)  # outside the except block: one line, no "during handling" chain


@_async_fixture
async def asyncdb_database(
    asyncdb_url: str,
    asyncdb_registry: Registries,
    asyncdb_migrations_dir: Path | None,
    asyncdb_schema: None,
) -> AsyncIterator[Database]:
    """A connected ``Database`` whose changes are rolled back when the test ends.

    Tasks the test starts share its transaction; ``transaction()`` blocks become savepoints.
    The registry's models query this database until the test ends.
    """
    registries = _registries(asyncdb_registry)
    database = Database(asyncdb_url, force_rollback=True)
    await database.connect()
    previous = [registry.database for registry in registries]
    try:
        for registry in registries:
            if database.url.is_memory and asyncdb_migrations_dir is None:
                await registry.create_all(database)  # inside the rolled-back transaction
            registry.database = database
        yield database
    finally:
        for registry, database_before in zip(registries, previous, strict=True):
            registry.database = database_before
        await database.disconnect()


@pytest.fixture
def asyncdb_models(asyncdb_database: Database, asyncdb_registry: Registries) -> orm.ModelRegistry:
    """The registry, its models bound to ``asyncdb_database`` for this test."""
    registries = _registries(asyncdb_registry)
    if not registries:
        _fail(
            f"asyncdb: asyncdb_models needs a registry; set {settings.INI_REGISTRY} = "
            "'package.module:attribute' in the pytest configuration, or override the "
            "asyncdb_registry fixture to return your orm.ModelRegistry"
        )
    if len(registries) > 1:
        _fail(
            f"asyncdb: asyncdb_models returns one registry, and {len(registries)} are "
            "configured; use asyncdb_database (every registry is bound to it) and your models"
        )
    return registries[0]
