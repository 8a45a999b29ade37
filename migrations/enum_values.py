"""The values of named enum types (PostgreSQL ``CREATE TYPE ... AS ENUM``).

Alembic compares a column's enum type by name only, so a value added to
``sa.Enum("draft", "published", name="status")`` was not seen on PostgreSQL: ``check`` agreed,
and inserting the new value failed. (MySQL's inline ``ENUM(...)`` is compared as a column type,
SQLite stores enums as ``VARCHAR``, ``orm.Enum`` is a ``VARCHAR`` everywhere.)

The ``migrations.enum_values`` comparator, registered for PostgreSQL, compares the labels of each
named enum type of the models with the database's and adds an :class:`AlterEnumValuesOp`,
which a revision calls as ``op.alter_enum_values(name, old_values, new_values, columns=...)``.
Where types are named (PostgreSQL), values only added become ``ALTER TYPE ... ADD VALUE``;
any other change (a value removed, the order changed, and so every downgrade of an addition)
re-creates the type and converts the columns that use it through text, which fails while a row
holds a value that is gone. Elsewhere the operation does nothing: the columns' own changes are
migrated as column types.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import renderers
from alembic.autogenerate.api import AutogenContext
from alembic.operations import Operations, ops
from alembic.runtime.plugins import Plugin
from alembic.util import PriorityDispatchResult

__all__ = ["PLUGIN", "AlterEnumValuesOp", "put_enum_value_changes_outside"]

#: The plugin's name, for ``autogenerate_plugins``.
PLUGIN = "migrations.enum_values"

#: Databases whose enum types are named types of their own (``CREATE TYPE``).
_NAMED_ENUM_TYPES = frozenset({"postgresql"})


@Operations.register_operation("alter_enum_values")
class AlterEnumValuesOp(ops.MigrateOperation):
    """Give the named enum type ``name`` the values ``new`` (it has ``old``).

    ``columns`` are the ``(table, column, server default)`` that use the type, converted when
    the type is re-created (their default is set again afterwards).
    """

    def __init__(
        self,
        name: str,
        old: Sequence[str],
        new: Sequence[str],
        *,
        columns: Sequence[tuple[str, str, str | None]] = (),
        schema: str | None = None,
    ) -> None:
        self.name = name
        self.old = list(old)
        self.new = list(new)
        self.columns = [(table, column, default) for table, column, default in columns]
        self.schema = schema

    @classmethod
    def alter_enum_values(
        cls,
        operations: Operations,
        name: str,
        old: Sequence[str],
        new: Sequence[str],
        *,
        columns: Sequence[tuple[str, str, str | None]] = (),
        schema: str | None = None,
    ) -> None:
        """Change the values of the named enum type ``name`` from ``old`` to ``new``."""
        operations.invoke(cls(name, old, new, columns=columns, schema=schema))

    def reverse(self) -> AlterEnumValuesOp:
        return AlterEnumValuesOp(
            self.name, self.new, self.old, columns=self.columns, schema=self.schema
        )

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("modify_enum_values", self.schema, self.name, self.old, self.new)


def _only_added(old: list[str], new: list[str]) -> bool:
    """Whether ``new`` is ``old`` with values inserted (the order of ``old`` kept)."""
    remaining = iter(new)
    return all(value in remaining for value in old)


@Operations.implementation_for(AlterEnumValuesOp)
def _alter_enum_values(operations: Operations, operation: AlterEnumValuesOp) -> None:
    dialect = operations.get_context().dialect
    if dialect.name not in _NAMED_ENUM_TYPES:
        return
    preparer = dialect.identifier_preparer

    def literal(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    def type_name(name: str) -> str:
        quoted = preparer.quote(name)
        schema = operation.schema
        return f"{preparer.quote_schema(schema)}.{quoted}" if schema else quoted

    name = type_name(operation.name)
    if _only_added(operation.old, operation.new):
        present = list(operation.old)  # the type's values, in order, as they are added
        for index, value in enumerate(operation.new):
            if value in present:
                continue
            before = next((v for v in operation.new[index + 1 :] if v in present), None)
            if before is not None:
                place = f" BEFORE {literal(before)}"
                present.insert(present.index(before), value)
            else:
                place = f" AFTER {literal(present[-1])}" if present else ""
                present.append(value)
            operations.execute(f"ALTER TYPE {name} ADD VALUE IF NOT EXISTS {literal(value)}{place}")
        return
    old_name = type_name(f"{operation.name}_old")
    operations.execute(f"ALTER TYPE {name} RENAME TO {preparer.quote(operation.name + '_old')}")
    values = ", ".join(literal(value) for value in operation.new)
    operations.execute(f"CREATE TYPE {name} AS ENUM ({values})")
    for table, column, default in operation.columns:
        target = preparer.format_table(sa.table(table, schema=operation.schema))
        quoted = preparer.quote(column)
        if default is not None:
            operations.execute(f"ALTER TABLE {target} ALTER COLUMN {quoted} DROP DEFAULT")
        operations.execute(
            f"ALTER TABLE {target} ALTER COLUMN {quoted} TYPE {name} USING {quoted}::text::{name}"
        )
        if default is not None:
            operations.execute(f"ALTER TABLE {target} ALTER COLUMN {quoted} SET DEFAULT {default}")
    operations.execute(f"DROP TYPE {old_name}")


@renderers.dispatch_for(AlterEnumValuesOp)
def _render_alter_enum_values(autogen_context: AutogenContext, op: AlterEnumValuesOp) -> str:
    arguments = [repr(op.name), repr(op.old), repr(op.new)]
    if op.columns:
        arguments.append(f"columns={op.columns!r}")
    if op.schema:
        arguments.append(f"schema={op.schema!r}")
    return f"op.alter_enum_values({', '.join(arguments)})"


def _named_enum(type_: Any) -> sa.Enum | None:
    while isinstance(type_, sa.TypeDecorator):
        type_ = type_.impl_instance
    if isinstance(type_, sa.Enum) and type_.native_enum and type_.name:
        return type_
    return None


def _compare_enum_values(
    autogen_context: AutogenContext, upgrade_ops: ops.UpgradeOps, schemas: set[str | None]
) -> PriorityDispatchResult:
    metadata = autogen_context.metadata
    inspector = autogen_context.inspector
    if not isinstance(metadata, sa.MetaData) or not hasattr(inspector, "get_enums"):
        return PriorityDispatchResult.CONTINUE
    for schema in schemas:
        existing = set(inspector.get_table_names(schema=schema))
        reflected = {enum["name"]: list(enum["labels"]) for enum in inspector.get_enums(schema)}
        if not reflected:
            continue
        wanted: dict[str, list[str]] = {}
        users: dict[str, list[tuple[str, str, str | None]]] = {}
        for table in metadata.tables.values():
            if table.schema != schema or table.name not in existing:
                continue
            if not any(_named_enum(column.type) is not None for column in table.columns):
                continue
            if not autogen_context.run_name_filters(table.name, "table", {"schema_name": schema}):
                continue
            if not autogen_context.run_object_filters(table, table.name, "table", False, None):
                continue
            defaults = {
                column["name"]: column.get("default")
                for column in inspector.get_columns(table.name, schema=schema)
            }
            for column in table.columns:
                enum = _named_enum(column.type)
                if enum is None or enum.name not in reflected or column.name not in defaults:
                    continue
                wanted.setdefault(str(enum.name), list(enum.enums))
                users.setdefault(str(enum.name), []).append(
                    (table.name, column.name, defaults[column.name])
                )
        for name, values in sorted(wanted.items()):
            if values != reflected[name]:
                upgrade_ops.ops.insert(
                    0,
                    AlterEnumValuesOp(
                        name, reflected[name], values, columns=users[name], schema=schema
                    ),
                )
    return PriorityDispatchResult.CONTINUE


def put_enum_value_changes_outside(container: ops.OpContainer, *, first: bool) -> None:
    """Move the enum value changes of ``container`` to its start (``first``, an upgrade) or its
    end (a downgrade), in place: they name the columns as they are before the upgrade."""
    changes = [op for op in container.ops if isinstance(op, AlterEnumValuesOp)]
    rest = [op for op in container.ops if not isinstance(op, AlterEnumValuesOp)]
    container.ops[:] = [*changes, *rest] if first else [*rest, *changes]


def setup(plugin: Plugin) -> None:
    """Register the comparator (Alembic's plugin entry point), for PostgreSQL."""
    plugin.add_autogenerate_comparator(_compare_enum_values, "schema", qualifier="postgresql")


Plugin.setup_plugin_from_module(sys.modules[__name__], PLUGIN)
