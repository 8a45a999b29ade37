"""Operations of our own that revisions call like Alembic's (``op.rename_primary_key(...)``).

Importing this module registers them on Alembic's ``Operations``; ``env.py`` imports it (through
:mod:`migrations.environment`) before any revision runs, the plain ``alembic`` command too.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import renderers
from alembic.autogenerate.api import AutogenContext
from alembic.operations import Operations, ops

__all__ = ["RenamePrimaryKeyOp"]

#: Databases where a primary key's name is a name of its own in the schema (PostgreSQL: its
#: index's), so a renamed table's ``pk_<old table>`` would stop a new table of the old name.
#: MySQL calls every primary key PRIMARY; SQLite keeps the name inside the table's definition.
_SCHEMA_WIDE_PRIMARY_KEY_NAMES = frozenset({"postgresql"})


@Operations.register_operation("rename_primary_key")
class RenamePrimaryKeyOp(ops.MigrateOperation):
    """Rename the primary key constraint ``old_name`` of ``table_name`` to ``new_name``.

    Done where the name matters (PostgreSQL); elsewhere there is nothing to do.
    """

    def __init__(
        self, table_name: str, old_name: str, new_name: str, *, schema: str | None = None
    ) -> None:
        self.table_name = table_name
        self.old_name = old_name
        self.new_name = new_name
        self.schema = schema

    @classmethod
    def rename_primary_key(
        cls,
        operations: Operations,
        table_name: str,
        old_name: str,
        new_name: str,
        *,
        schema: str | None = None,
    ) -> None:
        """Rename the primary key of ``table_name`` from ``old_name`` to ``new_name``."""
        operations.invoke(cls(table_name, old_name, new_name, schema=schema))

    def reverse(self) -> RenamePrimaryKeyOp:
        return RenamePrimaryKeyOp(self.table_name, self.new_name, self.old_name, schema=self.schema)

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("rename_primary_key", self.schema, self.table_name, self.old_name, self.new_name)


@Operations.implementation_for(RenamePrimaryKeyOp)
def _rename_primary_key(operations: Operations, operation: RenamePrimaryKeyOp) -> None:
    dialect = operations.get_context().dialect
    if dialect.name not in _SCHEMA_WIDE_PRIMARY_KEY_NAMES:
        return
    preparer = dialect.identifier_preparer
    table = preparer.format_table(sa.table(operation.table_name, schema=operation.schema))
    old, new = preparer.quote(operation.old_name), preparer.quote(operation.new_name)
    operations.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {old} TO {new}")


@renderers.dispatch_for(RenamePrimaryKeyOp)
def _render_rename_primary_key(autogen_context: AutogenContext, op: RenamePrimaryKeyOp) -> str:
    schema = f", schema={op.schema!r}" if op.schema else ""
    return f"op.rename_primary_key({op.table_name!r}, {op.old_name!r}, {op.new_name!r}{schema})"
