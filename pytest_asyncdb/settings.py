"""Where the plugin's settings come from: the URL, the model registry, the migrations folder.

The URL, highest precedence first: ``--asyncdb-url``, ``$ASYNCDB_TEST_URL``, the ``asyncdb_url``
ini option, then ``$DATABASE_URL`` (the generic variable comes last, so a test-specific setting
always wins over it). The registry and the migrations folder come from ini options; the
fixtures that return them can be overridden instead.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

import orm
from asyncdb import DatabaseURL

__all__ = [
    "CREATE_OPTION",
    "ENV_VAR",
    "FALLBACK_ENV_VAR",
    "INI_CREATE",
    "INI_MIGRATIONS_DIR",
    "INI_REGISTRY",
    "INI_URL",
    "OPTION",
    "ConfigError",
    "Found",
    "create_database",
    "find_url",
    "load_registries",
    "migrations_dir",
    "registries",
    "require_url",
]

OPTION = "--asyncdb-url"
CREATE_OPTION = "--asyncdb-create-db"
ENV_VAR = "ASYNCDB_TEST_URL"
FALLBACK_ENV_VAR = "DATABASE_URL"
INI_URL = "asyncdb_url"
INI_REGISTRY = "asyncdb_registry"
INI_MIGRATIONS_DIR = "asyncdb_migrations_dir"
INI_CREATE = "asyncdb_create_db"


class ConfigError(Exception):
    """A setting is missing or wrong; the message says which and how to fix it."""


@dataclass(frozen=True, slots=True)
class Found:
    """A configured URL and the setting it came from (for messages and the report header)."""

    url: str
    source: str


def find_url(config: pytest.Config) -> Found | None:
    """Return the test database URL with where it came from, or ``None`` when none is set."""
    candidates = (
        (OPTION, config.getoption("asyncdb_url", None)),
        (f"${ENV_VAR}", os.environ.get(ENV_VAR)),
        (f"the {INI_URL} ini option", config.getini(INI_URL)),
        (f"${FALLBACK_ENV_VAR}", os.environ.get(FALLBACK_ENV_VAR)),
    )
    for source, value in candidates:
        if isinstance(value, str) and value.strip():
            return Found(value.strip(), source)
    return None


def require_url(config: pytest.Config) -> str:
    """Return the test database URL; raise ``ConfigError`` when none is set or it is bad."""
    found = find_url(config)
    if found is None:
        raise ConfigError(
            f"asyncdb: no database URL for the tests; pass {OPTION}=URL, set ${ENV_VAR} "
            f"(or ${FALLBACK_ENV_VAR}), or set {INI_URL} in the pytest configuration, "
            "e.g. sqlite:///:memory:"
        )
    try:
        DatabaseURL(found.url)
    except ValueError as exc:
        raise ConfigError(
            f"asyncdb: the database URL from {found.source} is invalid: {exc}"
        ) from None
    return found.url


def create_database(config: pytest.Config) -> bool:
    """Whether the session runs on a database of its own (option or ini ``asyncdb_create_db``)."""
    return bool(config.getoption("asyncdb_create_db", False) or config.getini(INI_CREATE))


def load_registries(config: pytest.Config) -> list[orm.ModelRegistry]:
    """Import the registries the ``asyncdb_registry`` ini option names (``"package.module:attr"``,
    several separated by spaces or given as a list)."""
    return [_import_registry(path) for path in config.getini(INI_REGISTRY)]


def _import_registry(path: str) -> orm.ModelRegistry:
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ConfigError(
            f"asyncdb: {INI_REGISTRY} = {path!r} must name a module attribute, "
            "as 'package.module:attribute'"
        )
    try:
        target: object = importlib.import_module(module_name)
    except Exception as exc:  # the user's module may fail in any way while importing
        raise ConfigError(
            f"asyncdb: cannot import {module_name!r} (from {INI_REGISTRY} = {path!r}): "
            f"{type(exc).__name__}: {exc}; is it on sys.path (pytest's `pythonpath` option)?"
        ) from None
    for name in attribute.split("."):
        try:
            target = getattr(target, name)
        except AttributeError:
            raise ConfigError(
                f"asyncdb: {INI_REGISTRY} = {path!r}: {module_name!r} has no attribute "
                f"{attribute!r}"
            ) from None
    if not isinstance(target, orm.ModelRegistry):
        raise ConfigError(
            f"asyncdb: {INI_REGISTRY} = {path!r} is a {type(target).__name__}, "
            "not an orm.ModelRegistry"
        )
    return target


def registries(value: object) -> list[orm.ModelRegistry]:
    """What the ``asyncdb_registry`` fixture returned, as a list: ``None``, a registry, or
    several; raise ``ConfigError`` for anything else (an override returning a module)."""
    if value is None:
        return []
    if isinstance(value, orm.ModelRegistry):
        return [value]
    if isinstance(value, list | tuple) and all(isinstance(r, orm.ModelRegistry) for r in value):
        return list(value)
    raise ConfigError(
        "asyncdb: the asyncdb_registry fixture must return an orm.ModelRegistry, a list of "
        f"them, or None; it returned {value!r}"
    )


def migrations_dir(config: pytest.Config) -> Path | None:
    """The ``asyncdb_migrations_dir`` ini option, relative to the configuration file's folder."""
    value = str(config.getini(INI_MIGRATIONS_DIR)).strip()
    if not value:
        return None
    base = config.inipath.parent if config.inipath is not None else config.rootpath
    path = base / value
    if not path.is_dir():
        raise ConfigError(f"asyncdb: {INI_MIGRATIONS_DIR} = {value!r}: {path} is not a folder")
    return path
