"""Where the migration commands get their settings: the database URL, the models, the folder.

Precedence, highest first: explicit arguments (command-line flags), the ``DATABASE_URL``
environment variable (URL only), ``[tool.migrations]`` in ``pyproject.toml`` in the working
directory, then the defaults (folder ``db_migrations``).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

from asyncdb import Database, DatabaseURL
from migrations.errors import MigrationError

__all__ = [
    "DEFAULT_DIRECTORY",
    "DatabaseTarget",
    "Settings",
    "load_settings",
    "safe_url",
    "sqlalchemy_url",
]

DEFAULT_DIRECTORY = "db_migrations"
"""``init``'s default folder. Not ``migrations``: a folder of that name in the working directory
can shadow this package on ``sys.path`` (editable installs especially)."""

_SETTING_KEYS = ("url", "models", "dir", "exclude_tables")


#: What the API accepts as "the database": an asyncdb URL string, an ``asyncdb.DatabaseURL``,
#: an ``asyncdb.Database`` (migrations run on a short-lived connection of their own to the same
#: database), or a SQLAlchemy ``URL``.
DatabaseTarget = str | DatabaseURL | Database | URL


@dataclass(frozen=True)
class Settings:
    """The settings one command runs with (unset values are ``None``)."""

    url: str | None = None
    models: str | None = None
    directory: Path = Path(DEFAULT_DIRECTORY)
    exclude_tables: tuple[str, ...] = field(default=())


def _read_pyproject(cwd: Path) -> Mapping[str, Any]:
    path = cwd / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise MigrationError(f"cannot read {path}: {exc}") from exc
    section = data.get("tool", {}).get("migrations", {})
    if not isinstance(section, dict):
        raise MigrationError(f"{path}: [tool.migrations] must be a table")
    unknown = sorted(set(section) - set(_SETTING_KEYS))
    if unknown:
        raise MigrationError(
            f"{path}: unknown key(s) {', '.join(unknown)} in [tool.migrations]; "
            f"supported: {', '.join(_SETTING_KEYS)}"
        )
    for key in ("url", "models", "dir"):
        if key in section and not isinstance(section[key], str):
            raise MigrationError(f"{path}: [tool.migrations] {key} must be a string")
    excludes = section.get("exclude_tables", [])
    if not isinstance(excludes, list) or not all(isinstance(e, str) for e in excludes):
        raise MigrationError(f"{path}: [tool.migrations] exclude_tables must be a list of strings")
    return section


def load_settings(
    *,
    url: str | None = None,
    models: str | None = None,
    directory: str | None = None,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Merge explicit values, ``$DATABASE_URL`` and ``[tool.migrations]`` into :class:`Settings`.

    Raise :class:`MigrationError` when ``pyproject.toml`` cannot be read or has unknown keys.
    A relative ``dir`` from ``pyproject.toml`` is relative to the working directory.
    """
    cwd = cwd or Path.cwd()
    environ = os.environ if environ is None else environ
    section = _read_pyproject(cwd)
    return Settings(
        url=url or environ.get("DATABASE_URL") or section.get("url"),
        models=models or section.get("models"),
        directory=cwd / (directory or section.get("dir") or DEFAULT_DIRECTORY),
        exclude_tables=tuple(section.get("exclude_tables", ())),
    )


def sqlalchemy_url(database: DatabaseTarget) -> URL:
    """Return the SQLAlchemy async-driver URL for ``database``.

    Accept what ``asyncdb`` accepts (``sqlite://``, ``sqlite+aiosqlite://``, ``postgresql://``,
    ``postgresql+asyncpg://``, ``mysql://``, ``mysql+aiomysql://``), as text, an
    ``asyncdb.DatabaseURL`` or an ``asyncdb.Database``; a SQLAlchemy ``URL`` is taken as is.
    Raise :class:`MigrationError` for another scheme, a malformed URL, or an in-memory SQLite
    database given as a URL (a migration run on its own connection would see a database of its
    own; a connected ``asyncdb.Database`` shares its in-memory database, so pass that instead).
    """
    if isinstance(database, URL):
        url = database
    elif isinstance(database, Database):
        url = database.sqlalchemy_url
    else:
        try:
            url = DatabaseURL(database).to_sqlalchemy()
        except ValueError as exc:  # asyncdb's message names the supported schemes
            raise MigrationError(str(exc)) from None
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        raise MigrationError(
            "cannot migrate an in-memory SQLite database given as a URL: the migration's own "
            "connection would see another, empty database; pass the connected asyncdb.Database"
        )
    return url


def safe_url(url: URL) -> str:
    """Render ``url`` for a message: the password is always replaced by ``***``."""
    return url.render_as_string(hide_password=True)
