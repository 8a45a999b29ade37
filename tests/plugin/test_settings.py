"""Where the URL comes from, and the one-line errors for missing or wrong settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.plugin.conftest import PLUGIN_ARGS, Project

pytestmark = pytest.mark.backends("sqlite")

ROOT = Path(__file__).resolve().parents[2]

URL_TEST = """
import os

from asyncdb import DatabaseURL


async def test_url(asyncdb_url, asyncdb_database):
    assert asyncdb_url == os.environ["PLG_EXPECTED_URL"]
    assert asyncdb_database.url == DatabaseURL(asyncdb_url)
    assert await asyncdb_database.fetch_val("SELECT 1") == 1
"""


@pytest.mark.parametrize(
    ("given", "expected", "source"),
    [
        ({"option": "a", "ASYNCDB_TEST_URL": "b", "ini": "c", "DATABASE_URL": "d"}, "a",
         "--asyncdb-url"),
        ({"ASYNCDB_TEST_URL": "b", "ini": "c", "DATABASE_URL": "d"}, "b", "$ASYNCDB_TEST_URL"),
        ({"ini": "c", "DATABASE_URL": "d"}, "c", "the asyncdb_url ini option"),
        ({"DATABASE_URL": "d"}, "d", "$DATABASE_URL"),
    ],
    ids=["option", "env", "ini", "database-url"],
)  # fmt: skip
def test_url_precedence(
    project: Project,
    monkeypatch: pytest.MonkeyPatch,
    given: dict[str, str],
    expected: str,
    source: str,
) -> None:
    urls = {name: f"sqlite:///{project.pytester.path / (letter + '.db')}"
            for name, letter in given.items()}  # fmt: skip
    for name in ("ASYNCDB_TEST_URL", "DATABASE_URL"):
        if name in given:
            monkeypatch.setenv(name, urls[name])
    monkeypatch.setenv(
        "PLG_EXPECTED_URL", f"sqlite:///{project.pytester.path / (expected + '.db')}"
    )
    project.write_ini(f"asyncdb_url = {urls['ini']}" if "ini" in given else "")
    project.write("test_plg_url.py", URL_TEST)
    args = [f"--asyncdb-url={urls['option']}"] if "option" in given else []
    result = project.run(*args, url=False)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"asyncdb: sqlite:///*/{expected}.db (from {source})"])


def test_report_header_hides_the_password(project: Project) -> None:
    project.write_ini()
    project.write("test_plg_nothing.py", "def test_nothing():\n    pass\n")
    result = project.run("--asyncdb-url=postgresql://app:hunter2@db.invalid/app", url=False)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["asyncdb: postgresql://app:***@db.invalid/app (from --asyncdb-url)"]
    )
    assert "hunter2" not in result.stdout.str()


ERROR_CASES = {
    "no-url": (
        [],
        [],
        "asyncdb: no database URL for the tests; pass --asyncdb-url=URL, set $ASYNCDB_TEST_URL "
        "(or $DATABASE_URL), or set asyncdb_url in the pytest configuration*",
    ),
    "bad-url": (
        ["--asyncdb-url=oracle://scott@db/app"],
        [],
        "asyncdb: the database URL from --asyncdb-url is invalid: *",
    ),
    "registry-module-missing": (
        ["--asyncdb-url=sqlite:///:memory:"],
        ["asyncdb_registry = no_such_module:models"],
        "asyncdb: cannot import 'no_such_module' (from asyncdb_registry = 'no_such_module:*",
    ),
    "registry-not-a-path": (
        ["--asyncdb-url=sqlite:///:memory:"],
        ["asyncdb_registry = plg_models"],
        "asyncdb: asyncdb_registry = 'plg_models' must name a module attribute*",
    ),
    "registry-wrong-type": (
        ["--asyncdb-url=sqlite:///:memory:"],
        ["asyncdb_registry = plg_models:Author"],
        "asyncdb: asyncdb_registry = 'plg_models:Author' is a *, not an orm.ModelRegistry",
    ),
    "migrations-dir-missing": (
        ["--asyncdb-url=sqlite:///:memory:"],
        ["asyncdb_migrations_dir = nowhere"],
        "asyncdb: asyncdb_migrations_dir = 'nowhere': */nowhere is not a folder",
    ),
    "server-unreachable": (
        ["--asyncdb-url=postgresql://app:hunter2@127.0.0.1:1/app?acquire_timeout=2"],
        ["asyncdb_registry = plg_models:models"],
        "asyncdb: cannot create the test schema on postgresql://app:***@127.0.0.1:1/app*",
    ),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_configuration_errors_are_one_line(project: Project, case: str) -> None:
    args, ini, message = ERROR_CASES[case]
    project.write_models()
    project.write_ini(*ini)
    project.write("test_plg_db.py", "async def test_db(asyncdb_database):\n    pass\n")
    result = project.run(*args, url=False)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([message])
    output = result.stdout.str()
    assert "During handling" not in output
    assert "Traceback" not in output
    assert "hunter2" not in output


def test_registry_fixture_returning_something_else(project: Project) -> None:
    project.url = "sqlite:///:memory:"
    project.write_ini()
    project.write(
        "conftest.py",
        """
        import pytest


        @pytest.fixture(scope="session")
        def asyncdb_registry():
            return "plg_models:models"
        """,
    )
    project.write("test_plg_db.py", "async def test_db(asyncdb_database):\n    pass\n")
    result = project.run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "asyncdb: the asyncdb_registry fixture must return an orm.ModelRegistry, a list of "
            "them, or None; it returned 'plg_models:models'"
        ]
    )


def test_models_fixture_needs_a_registry(project: Project) -> None:
    project.url = "sqlite:///:memory:"
    project.write_ini()
    project.write("test_plg_models.py", "def test_models(asyncdb_models):\n    pass\n")
    result = project.run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["asyncdb: asyncdb_models needs a registry; set asyncdb_registry = *"]
    )


def test_without_pytest_asyncio(pytester: pytest.Pytester) -> None:
    """The plugin loads without pytest-asyncio; its async fixture says what to install."""
    shadow = pytester.mkdir("shadow")
    (shadow / "pytest_asyncio.py").write_text("raise ImportError('simulated: not installed')\n")
    pytester.makepyfile(test_plg_db="def test_db(asyncdb_database):\n    pass\n")
    path = [str(shadow), str(ROOT), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, path))}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:asyncio", "-p", "no:cacheprovider",
         *PLUGIN_ARGS, "--asyncdb-url=sqlite:///:memory:", "test_plg_db.py"],
        cwd=pytester.path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert (
        "asyncdb: the asyncdb_database fixture needs pytest-asyncio (pip install pytest-asyncio)"
        in done.stdout
    )


def test_model_errors_are_one_line(project: Project) -> None:
    """A relation to a model that was never defined stops the session with one line."""
    project.write(
        "plg_broken.py",
        """
        import orm

        models = orm.ModelRegistry()


        class Book(orm.Model):
            registry = models
            tablename = "{prefix}book"
            id = orm.Integer(primary_key=True)
            author = orm.ForeignKey("Nobody", on_delete=orm.CASCADE)
        """,
    )
    project.write_ini("asyncdb_registry = plg_broken:models")
    project.write("test_plg_db.py", "async def test_db(asyncdb_database):\n    pass\n")
    result = project.run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["asyncdb: cannot create the test schema on *: ORMError: *"])
    assert "Traceback" not in result.stdout.str()
