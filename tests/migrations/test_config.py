"""Settings (flags, $DATABASE_URL, [tool.migrations]), URLs and table exclusion."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

import migrations
from asyncdb import Database, DatabaseURL
from migrations import MigrationError
from migrations.config import load_settings, safe_url, sqlalchemy_url


def test_precedence_flags_then_environment_then_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.migrations]\nurl = "sqlite:///from_toml.db"\nmodels = "app.models:models"\n'
        'dir = "schema"\nexclude_tables = ["legacy_*"]\n'
    )
    settings = load_settings(cwd=tmp_path, environ={})
    assert settings.url == "sqlite:///from_toml.db"
    assert settings.models == "app.models:models"
    assert settings.directory == tmp_path / "schema"
    assert settings.exclude_tables == ("legacy_*",)
    from_env = load_settings(cwd=tmp_path, environ={"DATABASE_URL": "sqlite:///env.db"})
    assert from_env.url == "sqlite:///env.db"
    flags = load_settings(
        url="sqlite:///flag.db",
        models="other:metadata",
        directory="elsewhere",
        cwd=tmp_path,
        environ={"DATABASE_URL": "sqlite:///env.db"},
    )
    assert (flags.url, flags.models) == ("sqlite:///flag.db", "other:metadata")
    assert flags.directory == tmp_path / "elsewhere"


def test_defaults_and_bad_pyproject(tmp_path: Path) -> None:
    settings = load_settings(cwd=tmp_path, environ={})
    assert (settings.url, settings.models) == (None, None)
    assert settings.directory == tmp_path / "db_migrations"
    (tmp_path / "pyproject.toml").write_text('[tool.migrations]\ndirectory = "x"\n')
    with pytest.raises(MigrationError, match=r"unknown key\(s\) directory in \[tool.migrations\]"):
        load_settings(cwd=tmp_path, environ={})
    (tmp_path / "pyproject.toml").write_text("[tool.migrations\n")
    with pytest.raises(MigrationError, match="cannot read"):
        load_settings(cwd=tmp_path, environ={})


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///app.db", "sqlite+aiosqlite:///app.db"),
        ("sqlite+aiosqlite:///app.db", "sqlite+aiosqlite:///app.db"),
        ("postgresql://u@h:5432/d", "postgresql+asyncpg://u@h:5432/d"),
        ("postgresql+asyncpg://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("mysql://root@h:3306/d", "mysql+aiomysql://root@h:3306/d"),
        ("mysql+aiomysql://root@h/d", "mysql+aiomysql://root@h/d"),
    ],
)
def test_asyncdb_urls_map_to_async_dialects(given: str, expected: str) -> None:
    assert safe_url(sqlalchemy_url(given)) == expected
    assert safe_url(sqlalchemy_url(DatabaseURL(given))) == expected


def test_urls_never_show_the_password() -> None:
    url = sqlalchemy_url(Database("postgresql://app:pa55word@db.internal/app"))
    assert url.password == "pa55word"
    assert safe_url(url) == "postgresql+asyncpg://app:***@db.internal/app"
    with pytest.raises(MigrationError) as failure:
        sqlalchemy_url("oracle://scott:tiger@db/x")
    assert "tiger" not in str(failure.value)
    for memory in ("sqlite://", "sqlite:///:memory:"):
        with pytest.raises(MigrationError, match="in-memory SQLite"):
            sqlalchemy_url(memory)


@pytest.mark.backends("sqlite")
async def test_excluded_tables_are_left_alone(migration_url: str, tmp_path: Path) -> None:
    async with Database(migration_url) as database:
        await database.execute("CREATE TABLE legacy_orders (id INTEGER PRIMARY KEY)")
    directory = migrations.init(tmp_path / "db_migrations")
    metadata = sa.MetaData()
    sa.Table("orders", metadata, sa.Column("id", sa.Integer, primary_key=True))
    path = await migrations.makemigrations(
        migration_url, metadata, directory, message="orders", exclude_tables=["legacy_*"]
    )
    assert path is not None and "legacy_orders" not in path.read_text()
    await migrations.migrate(migration_url, metadata, directory)
    await migrations.check(migration_url, metadata, directory, exclude_tables=["legacy_*"])
    with pytest.raises(migrations.SchemaDiffers, match="remove table 'legacy_orders'"):
        await migrations.check(migration_url, metadata, directory)
