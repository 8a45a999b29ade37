"""What a migrations folder's ``env.py`` runs: Alembic's context, configured the way we want.

The API (and so the command line) puts an ``EnvironmentState`` into
``config.attributes[STATE_KEY]`` before it calls an ``alembic.command``; ``env.py`` calls
``run_environment``, which reads it. Online, the state carries a synchronous
``Connection`` obtained through ``AsyncConnection.run_sync`` — ``env.py`` never starts an event
loop of its own, so everything works inside a running one.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import logging.config
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlalchemy as sa
from alembic import context
from alembic.autogenerate.api import AutogenContext
from alembic.ddl.sqlite import SQLiteImpl
from alembic.runtime.migration import MigrationContext, MigrationInfo
from alembic.util import CommandError
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL, Connection

from migrations import checks, enum_values
from migrations import operations as operations  # registers op.rename_primary_key for revisions
from migrations.check_sql import render_check
from migrations.server_defaults import compare_server_default

__all__ = [
    "COMPARE_OPTIONS",
    "PLUGINS",
    "STATE_KEY",
    "AppliedRevision",
    "EnvironmentState",
    "render_item",
    "run_environment",
]

log = logging.getLogger("migrations")

#: The key of ``EnvironmentState`` in ``alembic.config.Config.attributes``.
STATE_KEY = "migrations.state"


@dataclass(frozen=True)
class AppliedRevision:
    """One revision step that ``migrate`` or ``downgrade`` completed."""

    revision: str
    message: str
    upgrade: bool


@dataclass
class EnvironmentState:
    """Everything ``env.py`` needs for one command, and what it reports back."""

    url: URL | None
    metadata: sa.MetaData | None = None
    connection: Connection | None = None
    exclude_tables: tuple[str, ...] = ()
    applied: list[AppliedRevision] = field(default_factory=list)
    #: The first revision of a folder is being written: compare the models with an empty
    #: database, whatever tables it already has.
    initial: bool = False
    #: Whether DDL rolls back with a failed revision: True where the runner made it so
    #: (SQLite), else what Alembic knows of the database (set once ``env.py`` ran).
    transactional_ddl: bool | None = None
    #: How many revision steps (stamps included) completed.
    steps_done: int = 0
    #: Options for the dialect that renders SQL offline: what was learnt of the server.
    dialect_options: dict[str, Any] = field(default_factory=dict)

    def record(self, *, ctx: MigrationContext, step: MigrationInfo, **_: Any) -> None:
        """``on_version_apply`` hook: remember each completed step."""
        self.steps_done += 1
        revision = step.up_revision
        if revision is not None and not step.is_stamp:
            message = str(getattr(revision, "doc", ""))  # a Script; typed as its base Revision
            self.applied.append(AppliedRevision(revision.revision, message, step.is_upgrade))
            verb = "Applied" if step.is_upgrade else "Reverted"
            log.info("%s %s %s", verb, revision.revision, message)


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render types so that the revision imports everything it names.

    A check constraint's condition is written for every backend
    (:func:`migrations.check_sql.render_check`). A type from outside SQLAlchemy (an orm field
    type) is rendered by Alembic as
    ``its.module.TypeName(...)``; this hook adds ``import its.module``. PostgreSQL's JSON/JSONB
    (a ``with_variant`` of the orm's JSON field) is rendered here because Alembic renders its
    ``astext_type`` as a bare ``Text()`` unless the revision is generated against PostgreSQL.
    Everything else is left to Alembic.
    """
    if type_ == "check" and isinstance(obj, sa.CheckConstraint):
        return render_check(obj, autogen_context) or False
    if type_ != "type" or not isinstance(obj, sa.types.TypeEngine):
        return False
    imports = autogen_context.imports if autogen_context.imports is not None else set()
    if isinstance(obj, postgresql.JSON):
        imports.add("from sqlalchemy.dialects import postgresql")
        arguments = ["none_as_null=True"] if obj.none_as_null else []
        return f"postgresql.{type(obj).__name__}({', '.join(arguments)})"
    module = type(obj).__module__
    if not module.startswith("sqlalchemy"):
        imports.add(f"import {module}")
    return False


#: Autogenerate's comparisons: Alembic's own, and named CHECK constraints (added and dropped by
#: name; the orm names every one through its naming convention), long names included, and the
#: values of PostgreSQL's named enum types.
PLUGINS = [
    "alembic.autogenerate.*",
    "alembic.ext.checkconstraint_byname",
    checks.PLUGIN,
    enum_values.PLUGIN,
]


#: How autogenerate compares the models with the database (``check``, ``makemigrations``).
COMPARE_OPTIONS: dict[str, Any] = {
    "compare_type": True,
    "compare_server_default": compare_server_default,
    "autogenerate_plugins": PLUGINS,
}


def _excluder(patterns: tuple[str, ...]) -> Callable[..., bool]:
    def include_object(
        obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
    ) -> bool:
        if type_ == "table" and name is not None:
            return not any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)
        return True

    return include_object


def _keep_dates_as_text(impl: SQLiteImpl) -> None:
    """Stop batch mode from casting into a date or time type on SQLite.

    A batch table copy casts a column whose type changes kind, and SQLite gives ``DATE``,
    ``DATETIME`` and ``TIME`` numeric affinity: ``CAST('2024-01-02' AS DATE)`` is ``2024``.
    SQLite stores these types as text, which the copy keeps as it is.
    """
    cast = impl.cast_for_batch_migrate

    def cast_for_batch_migrate(existing: Any, transfer: Any, new_type: Any) -> None:
        kind = new_type._type_affinity
        if kind is not None and issubclass(kind, sa.Date | sa.DateTime | sa.Time):
            return
        cast(existing, transfer, new_type)

    impl.cast_for_batch_migrate = cast_for_batch_migrate  # type: ignore[method-assign,assignment]


def _no_tables(name: str | None, type_: str, parent_names: Any) -> bool:
    """``include_name`` that hides every table of the database (it looks empty)."""
    return type_ != "table"


def run_environment(**overrides: Any) -> None:
    """Configure Alembic's context and run the migrations (call from ``env.py``).

    Defaults: the models' metadata as the autogenerate target, ``compare_type``,
    ``compare_server_default``, named CHECK constraints compared, ``render_as_batch`` on
    SQLite, one transaction per revision (real rollback of a failing revision where DDL is
    transactional: PostgreSQL, and SQLite, made so by the runner), tables matching
    ``exclude_tables`` ignored, orm types imported in revisions; the first revision of a folder
    is compared with an empty database. ``overrides`` are passed on to
    ``context.configure`` and win over the defaults.

    Run by the plain ``alembic`` command line (``alembic -c db_migrations/alembic.ini
    upgrade head``), the settings come from ``$DATABASE_URL`` and ``[tool.migrations]`` as
    for ``python -m migrations``, and the run takes the same lock; ``alembic revision
    --autogenerate`` is refused (``makemigrations`` writes what it would miss).
    """
    state = context.config.attributes.get(STATE_KEY)
    if state is None:
        _run_standalone(overrides)
        return
    if not isinstance(state, EnvironmentState) or state.url is None:
        raise CommandError("env.py was given no database URL")
    options: dict[str, Any] = {
        **COMPARE_OPTIONS,
        "target_metadata": state.metadata,
        "render_as_batch": state.url.get_backend_name() == "sqlite",
        "render_item": render_item,
        "include_object": _excluder(state.exclude_tables),
        "transaction_per_migration": True,
    }
    if state.transactional_ddl:
        options["transactional_ddl"] = True
    if state.initial:
        options["include_name"] = _no_tables
    if not context.is_offline_mode():
        options["on_version_apply"] = state.record
    options.update(overrides)
    if context.is_offline_mode():
        # "named" parameters: no driver escaping (MySQL's drivers double every %) in the SQL.
        dialect_options = {"paramstyle": "named", **state.dialect_options}
        context.configure(
            url=state.url, literal_binds=True, dialect_opts=dialect_options, **options
        )
    else:
        if state.connection is None:
            raise CommandError("no database connection was given to env.py")
        context.configure(connection=state.connection, **options)
        impl = context.get_context().impl
        state.transactional_ddl = impl.transactional_ddl
        if isinstance(impl, SQLiteImpl):
            _keep_dates_as_text(impl)
    with context.begin_transaction():
        context.run_migrations()


def _run_standalone(overrides: dict[str, Any]) -> None:
    """``env.py`` run by the plain ``alembic`` command: settings as ``python -m migrations``
    reads them, and the runner's connection (lock, transactional SQLite, one-line errors).
    Logging as ``alembic.ini`` configures it (each revision step, as with any Alembic folder)."""
    from migrations.config import load_settings, sqlalchemy_url
    from migrations.errors import MigrationError
    from migrations.models import load_models
    from migrations.runner import render_for_server, run_online

    if getattr(context.config.cmd_opts, "autogenerate", False):
        raise CommandError(
            "alembic revision --autogenerate skips what makemigrations adds (renames, values "
            "for existing rows, an operation order MySQL accepts, enum types): run "
            "`python -m migrations makemigrations` instead"
        )
    config = context.config
    if config.config_file_name is not None and config.file_config.has_section("loggers"):
        logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)
    try:
        settings = load_settings(url=context.config.get_main_option("sqlalchemy.url"))
        if not settings.url:
            raise MigrationError(
                "no database URL: set DATABASE_URL, url in [tool.migrations], or sqlalchemy.url "
                "in alembic.ini"
            )
        models = load_models(settings.models)
        state = EnvironmentState(
            url=sqlalchemy_url(settings.url),
            metadata=models.metadata if models is not None else None,
            exclude_tables=settings.exclude_tables,
        )
        context.config.attributes[STATE_KEY] = state
        try:
            if context.is_offline_mode():
                asyncio.run(render_for_server(state, lambda: run_environment(**overrides)))
            else:
                asyncio.run(run_online(state, lambda: run_environment(**overrides), exclusive=True))
        finally:
            del context.config.attributes[STATE_KEY]
    except MigrationError as exc:
        raise CommandError(str(exc)) from exc
