"""Adopting a database whose tables already exist (made by ``create_all()``, or by hand).

Django's way: ``migrate --fake-initial`` records the initial revision as applied without running
it, when the tables it creates are there already and match it. Which tables it creates is read
from the revision itself: its ``upgrade()`` runs against a recorder that collects the operations
instead of running them. Without ``--fake-initial``, ``migrate`` stops before running anything
and says so, instead of failing half-way with "table already exists".
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.operations import BatchOperations, Operations, ops
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory

from migrations.diffs import describe_diff
from migrations.errors import MigrationError

__all__ = ["InitialTables", "initial_tables"]


class _BatchRecorder(BatchOperations):
    """``batch_op`` of a recorded revision: collects its operations too."""

    def __init__(
        self,
        context: MigrationContext,
        recorded: list[ops.MigrateOperation],
        table_name: str,
        schema: str | None,
    ) -> None:
        impl: Any = SimpleNamespace(table_name=table_name, schema=schema)
        super().__init__(context, impl=impl)
        self.recorded = recorded

    def invoke(self, operation: ops.MigrateOperation) -> Any:
        self.recorded.append(operation)


def _record(script: Script, context: MigrationContext) -> list[ops.MigrateOperation]:
    """Run the revision's ``upgrade()`` with an ``op`` that collects operations, runs none.

    The ``op`` is a plain ``Operations`` (Alembic installs proxies for that class only) whose
    ``invoke`` and ``batch_alter_table`` collect instead of run.
    """
    recorded: list[ops.MigrateOperation] = []

    @contextmanager
    def batch_alter_table(
        table_name: str, schema: str | None = None, **_: Any
    ) -> Iterator[BatchOperations]:
        yield _BatchRecorder(context, recorded, table_name, schema)

    recorder = Operations(context)
    setattr(recorder, "invoke", recorded.append)  # noqa: B010 - instance-level override
    setattr(recorder, "batch_alter_table", batch_alter_table)  # noqa: B010
    recorder._install_proxy()
    try:
        script.module.upgrade()
    except Exception as exc:  # anything but create_table/create_index (e.g. op.get_bind())
        raise MigrationError(
            f"--fake-initial: cannot tell which tables revision {script.revision} creates "
            f"({type(exc).__name__}: {exc}); check its tables by hand, then "
            f"`migrate {script.revision} --fake`"
        ) from exc
    finally:
        recorder._remove_proxy()
    return recorded


@dataclass
class InitialTables:
    """The tables an initial revision creates, and how the database has them."""

    revision: str
    metadata: sa.MetaData
    existing: list[str]
    missing: list[str]

    def differences(self, connection: sa.Connection, options: dict[str, Any]) -> list[str]:
        """How the database's tables differ from the revision's (empty: they match)."""
        names = set(self.metadata.tables)

        def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
            return type_ != "table" or name in names

        context = MigrationContext.configure(
            connection=connection, opts={**options, "include_name": include_name}
        )
        return [describe_diff(diff) for diff in compare_metadata(context, self.metadata)]


def _tables_of(recorded: list[ops.MigrateOperation]) -> sa.MetaData:
    metadata = sa.MetaData()
    for op in recorded:
        if isinstance(op, ops.CreateTableOp):
            op.to_table().to_metadata(metadata)
    for op in recorded:
        if isinstance(op, ops.CreateIndexOp) and op.table_name in metadata.tables:
            table = metadata.tables[op.table_name]
            columns = [table.c[c] if isinstance(c, str) else c for c in op.columns]
            sa.Index(op.index_name, *columns, unique=bool(op.unique), **op.kw)
    return metadata


def initial_tables(scripts: ScriptDirectory, connection: sa.Connection) -> list[InitialTables]:
    """The tables of each initial revision (one without a parent) and which of them exist.

    The revisions are read with an offline context: their ``upgrade()`` runs, but nothing it
    does can reach the database (``op.get_bind()`` gives nothing to run statements on).
    """
    context = MigrationContext.configure(
        dialect=connection.dialect, opts={"as_sql": True, "output_buffer": io.StringIO()}
    )
    existing = set(sa.inspect(connection).get_table_names())
    found = []
    for revision in sorted(scripts.get_bases()):
        script = scripts.get_revision(revision)
        assert script is not None
        metadata = _tables_of(_record(script, context))
        names = sorted(metadata.tables)
        found.append(
            InitialTables(
                revision,
                metadata,
                [name for name in names if name in existing],
                [name for name in names if name not in existing],
            )
        )
    return found
