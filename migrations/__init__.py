"""Django-style schema migrations over Alembic, generated from the orm's models.

Command line: ``python -m migrations [--url URL] [--models pkg.mod:attr] [--dir DIR] COMMAND``
with ``init``, ``makemigrations``, ``migrate``, ``downgrade``, ``showmigrations``,
``sqlmigrate``, ``check`` and ``merge``. The same commands are functions here; those that talk to
the database are coroutines and work inside a running event loop::

    await migrations.migrate("postgresql://app@db/app", models, "db_migrations")
"""

from migrations.api import (
    MigrationStatus,
    check,
    downgrade,
    init,
    makemigrations,
    merge,
    migrate,
    showmigrations,
    sqlmigrate,
)
from migrations.config import DEFAULT_DIRECTORY
from migrations.environment import AppliedRevision, run_environment
from migrations.errors import MigrationError, SchemaDiffers
from migrations.renames import Rename

__all__ = [
    "DEFAULT_DIRECTORY",
    "AppliedRevision",
    "MigrationError",
    "MigrationStatus",
    "Rename",
    "SchemaDiffers",
    "check",
    "downgrade",
    "init",
    "makemigrations",
    "merge",
    "migrate",
    "run_environment",
    "showmigrations",
    "sqlmigrate",
]
