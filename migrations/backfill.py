"""Values for the rows already there when a column becomes NOT NULL (Django's way).

A nullable column made NOT NULL fails on every database while a row holds NULL in it. When the
field has a constant default (``orm.String(default="")``, ``Column(default=0)``), the revision
first sets the NULL rows to it, with an ``UPDATE`` right before the ``alter_column``; without
one, a warning says that the upgrade fails if such rows exist.
"""

from __future__ import annotations

import decimal
import enum
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import renderers
from alembic.autogenerate.api import AutogenContext
from alembic.operations import ops

__all__ = ["FillNullsOp", "fill_nulls_before_not_null", "scalar_default"]


class FillNullsOp(ops.MigrateOperation):
    """``UPDATE table SET column = value WHERE column IS NULL``, rendered as Core, so it runs
    (and ``sqlmigrate`` shows it) on every backend."""

    def __init__(
        self, table_name: str, column_name: str, value: Any, schema: str | None = None
    ) -> None:
        self.table_name = table_name
        self.column_name = column_name
        self.value = value
        self.schema = schema

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("fill_nulls", self.schema, self.table_name, self.column_name, self.value)


def _source(value: Any, imports: set[str]) -> tuple[str, str] | None:
    """``value`` as Python source for the revision and the source of a SQLAlchemy type that
    binds it (and renders it as a literal for ``sqlmigrate``), or None if it has neither."""
    if isinstance(value, enum.Enum):
        return repr(value.name), "sa.String()"  # orm.Enum and sa.Enum store member names
    if isinstance(value, decimal.Decimal):
        imports.add("import decimal")
        return f"decimal.Decimal({str(value)!r})", "sa.Numeric()"
    for kind, type_source in _TYPES:
        if isinstance(value, kind):
            return repr(value), type_source
    return None


_TYPES = (
    (bool, "sa.Boolean()"),
    (int, "sa.Integer()"),
    (float, "sa.Float()"),
    (str, "sa.String()"),
)


@renderers.dispatch_for(FillNullsOp)
def _render_fill_nulls(autogen_context: AutogenContext, op: FillNullsOp) -> str:
    imports = autogen_context.imports if autogen_context.imports is not None else set()
    source = _source(op.value, imports)
    assert source is not None, "fill_nulls_before_not_null makes no op without a literal"
    value, type_source = source
    column = f"sa.column({op.column_name!r}, {type_source})"
    schema = f", schema={op.schema!r}" if op.schema else ""
    return (
        "op.execute(\n"
        f"    sa.table({op.table_name!r}, {column}{schema})\n"
        "    .update()\n"
        f"    .where(sa.column({op.column_name!r}).is_(None))\n"
        f"    .values({{{op.column_name!r}: {value}}})\n"
        ")"
    )


def scalar_default(
    metadata: sa.MetaData | None,
    defaults: Mapping[tuple[str, str], Any],
    table: str,
    column: str,
) -> tuple[bool, Any]:
    """``(True, value)`` for a constant default of ``table.column`` in the models: the
    ``Column``'s own, or the orm field's (in ``defaults``); ``(False, None)`` otherwise."""
    model_table = metadata.tables.get(table) if metadata is not None else None
    if model_table is not None and column in model_table.c:
        default = model_table.c[column].default
        if isinstance(default, sa.ColumnDefault) and default.is_scalar:
            return True, default.arg
    if (table, column) in defaults:
        return True, defaults[(table, column)]
    return False, None


def fill_nulls_before_not_null(
    container: ops.OpContainer,
    metadata: sa.MetaData | None,
    defaults: Mapping[tuple[str, str], Any],
    warn: Callable[[str], None],
) -> None:
    """Put a :class:`FillNullsOp` before each block that makes a column NOT NULL, in place.

    Run it on the upgrade once the operations are in their final order: the ``UPDATE`` names the
    column as it is called when the block starts (a rename in the same step comes after).
    """
    result: list[ops.MigrateOperation] = []
    for block in container.ops:
        if isinstance(block, ops.ModifyTableOps):
            for op in block.ops:
                if not isinstance(op, ops.AlterColumnOp) or op.modify_nullable is not False:
                    continue
                name = op.modify_name or op.column_name
                found, value = scalar_default(metadata, defaults, block.table_name, name)
                if found and _source(value, set()) is not None:
                    result.append(
                        FillNullsOp(block.table_name, op.column_name, value, schema=block.schema)
                    )
                else:
                    warn(
                        f"column {block.table_name}.{name} becomes NOT NULL without a default: "
                        f"the upgrade fails if a row of {block.table_name} holds NULL in it "
                        "(give the field a default, or fill those rows first)"
                    )
        result.append(block)
    container.ops[:] = result
