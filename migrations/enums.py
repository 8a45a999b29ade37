"""Named enum types (PostgreSQL ``CREATE TYPE``) around the operations that need them.

Alembic creates a named enum with ``create_table`` but not with ``add_column``, and never drops
one: a downgrade that drops a table leaves the type behind and the next upgrade fails with "type
already exists" (Alembic #278). :func:`add_enum_operations` puts explicit, idempotent
``sa.Enum(...).create/drop(op.get_bind(), checkfirst=True)`` lines where they are needed. They
do nothing on backends without named enum types, so revisions stay portable.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import renderers
from alembic.autogenerate.api import AutogenContext
from alembic.operations import ops

__all__ = ["CreateEnumOp", "DropEnumOp", "add_enum_operations"]


class CreateEnumOp(ops.MigrateOperation):
    """Create the named enum type ``enum`` unless it exists."""

    def __init__(self, enum: sa.Enum) -> None:
        self.enum = enum

    def reverse(self) -> DropEnumOp:
        return DropEnumOp(self.enum)

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("create_enum", self.enum.name)


class DropEnumOp(ops.MigrateOperation):
    """Drop the named enum type ``enum`` if it exists."""

    def __init__(self, enum: sa.Enum) -> None:
        self.enum = enum

    def reverse(self) -> CreateEnumOp:
        return CreateEnumOp(self.enum)

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("drop_enum", self.enum.name)


def _enum_source(enum: sa.Enum) -> str:
    arguments = [repr(value) for value in enum.enums] + [f"name={enum.name!r}"]
    if enum.schema:
        arguments.append(f"schema={enum.schema!r}")
    return f"sa.Enum({', '.join(arguments)})"


@renderers.dispatch_for(CreateEnumOp)
def _render_create(autogen_context: AutogenContext, op: CreateEnumOp) -> str:
    return f"{_enum_source(op.enum)}.create(op.get_bind(), checkfirst=True)"


@renderers.dispatch_for(DropEnumOp)
def _render_drop(autogen_context: AutogenContext, op: DropEnumOp) -> str:
    return f"{_enum_source(op.enum)}.drop(op.get_bind(), checkfirst=True)"


def _named_enums(columns: Iterable[Any]) -> list[sa.Enum]:
    found: dict[str, sa.Enum] = {}
    for column in columns:
        if not isinstance(column, sa.Column):
            continue
        type_ = column.type
        if isinstance(type_, sa.TypeDecorator):
            type_ = type_.impl_instance
        if isinstance(type_, sa.Enum) and type_.native_enum and type_.name:
            found.setdefault(type_.name, type_)
    return list(found.values())


def add_enum_operations(container: ops.OpContainer) -> None:
    """Insert enum create/drop operations around the operations of ``container``, in place."""
    result: list[ops.MigrateOperation] = []
    for op in container.ops:
        if isinstance(op, ops.DropTableOp):
            result.append(op)
            result.extend(DropEnumOp(enum) for enum in _named_enums(op.to_table().columns))
        elif isinstance(op, ops.ModifyTableOps):
            added = [o.column for o in op.ops if isinstance(o, ops.AddColumnOp)]
            dropped = [o.to_column() for o in op.ops if isinstance(o, ops.DropColumnOp)]
            result.extend(CreateEnumOp(enum) for enum in _named_enums(added))
            result.append(op)
            result.extend(DropEnumOp(enum) for enum in _named_enums(dropped))
        else:
            result.append(op)
    container.ops[:] = result
