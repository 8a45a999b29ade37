"""The changes we make to what Alembic's autogenerate produced, before the file is written.

In order: confirmed table renames (:mod:`migrations.table_renames`) and column renames
(:mod:`migrations.renames`); a new NOT NULL column with a scalar default is added with that
default on the server, which is dropped right after, so the existing rows get the value (the
Django way); no index drops for tables that are dropped anyway (the table drop takes its indexes
with it); the operations put in an order every backend accepts (:mod:`migrations.ordering`);
named enum types created and dropped (:mod:`migrations.enums`); rows holding NULL in a column
that becomes NOT NULL set to the field's default first (:mod:`migrations.backfill`). Warnings
name every table or column that the upgrade drops, the columns the downgrade drops, and every
NOT NULL column that existing rows cannot fill.
"""

from __future__ import annotations

import decimal
import enum
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from alembic.operations import ops
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Dialect

from migrations.backfill import fill_nulls_before_not_null
from migrations.check_sql import portable_checks
from migrations.enum_values import put_enum_value_changes_outside
from migrations.enums import add_enum_operations
from migrations.ordering import (
    foreign_keys_of_metadata,
    order_operations,
    plain_type,
    reflected_foreign_keys,
)
from migrations.renames import (
    AskRename,
    Rename,
    apply_renames,
    data_loss_warnings,
    recreate_checks_of_renamed_columns,
)
from migrations.table_renames import apply_table_renames

__all__ = ["backfill_new_columns", "drop_index_drops_of_dropped_tables", "rewrite_script"]


def _server_literal(value: Any) -> str | None:
    """``value`` as a server default that means the same on every backend, or None."""
    if isinstance(value, bool):
        return "1" if value else "0"  # PostgreSQL's boolean input accepts '1' and '0' too
    if isinstance(value, int | float | decimal.Decimal | str):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.name  # orm.Enum stores member names
    return None


def backfill_new_columns(
    container: ops.OpContainer,
    defaults: Mapping[tuple[str, str], Any],
    warn: Callable[[str], None],
    dialect: Dialect,
    *,
    step: str = "upgrade",
) -> None:
    """Give each new NOT NULL column its scalar default for the rows already there, in place.

    The default is the column's own (``Column(default=0)``) or, for orm fields, the one in
    ``defaults`` (``(table, column) -> value``). The column is added with
    ``server_default=<default>``, and an ``alter_column`` right after drops that server default
    again, so the schema ends up exactly as the models declare it. Warn about a new NOT NULL
    column without a usable default: the upgrade fails on a table that has rows.
    """
    result: list[ops.MigrateOperation] = []
    for table in container.ops:
        result.append(table)
        if not isinstance(table, ops.ModifyTableOps):
            continue
        drop_defaults: list[ops.MigrateOperation] = []
        for index, op in enumerate(table.ops):
            if not isinstance(op, ops.AddColumnOp):
                continue
            column = op.column
            if column.nullable or column.server_default is not None or column.primary_key:
                continue
            default = column.default
            literal = None
            if isinstance(default, sa.ColumnDefault) and default.is_scalar:
                literal = _server_literal(default.arg)
            elif (table.table_name, column.name) in defaults:
                literal = _server_literal(defaults[(table.table_name, column.name)])
            if literal is None:
                hint = (
                    "give the field a default, or allow null"
                    if step == "upgrade"
                    else "edit the downgrade to fill the rows"
                )
                warn(
                    f"column {table.table_name}.{column.name} is added NOT NULL without a "
                    f"default: the {step} fails if {table.table_name} has rows ({hint})"
                )
                continue
            filled = sa.Column(
                column.name,
                column.type,
                nullable=False,
                server_default=literal,
                comment=column.comment,
            )
            table.ops[index] = ops.AddColumnOp(table.table_name, filled, schema=table.schema)
            drop_defaults.append(
                ops.AlterColumnOp(
                    table.table_name,
                    column.name,
                    schema=table.schema,
                    existing_type=plain_type(column.type, dialect),
                    existing_nullable=False,
                    existing_server_default=literal,
                    modify_server_default=None,
                )
            )
        if drop_defaults:
            # A block of its own: SQLite's batch mode applies one block as one table copy, so
            # the default must be gone only after the copy that filled the rows.
            result.append(ops.ModifyTableOps(table.table_name, drop_defaults, schema=table.schema))
    container.ops[:] = result


def drop_index_drops_of_dropped_tables(container: ops.OpContainer) -> None:
    """Remove ``drop_index`` operations on tables that ``container`` drops, in place."""
    dropped = {
        (op.schema, op.table_name) for op in container.ops if isinstance(op, ops.DropTableOp)
    }

    def keep(op: ops.MigrateOperation) -> bool:
        return not (isinstance(op, ops.DropIndexOp) and (op.schema, op.table_name) in dropped)

    result: list[ops.MigrateOperation] = []
    for op in container.ops:
        if isinstance(op, ops.ModifyTableOps) and (op.schema, op.table_name) in dropped:
            op.ops[:] = [inner for inner in op.ops if keep(inner)]
            if not op.ops:
                continue
        if keep(op):
            result.append(op)
    container.ops[:] = result


def rewrite_script(
    script: ops.MigrationScript,
    context: MigrationContext,
    renames: Sequence[Rename] = (),
    ask: AskRename | None = None,
    defaults: Mapping[tuple[str, str], Any] | None = None,
    warn: Callable[[str], None] = lambda message: None,
) -> bool:
    """Rewrite ``script`` in place; return False when it has nothing to do (no changes).

    ``defaults`` are the orm fields' constant defaults by ``(table, column)``. ``warn`` receives
    one message per dropped table or column (upgrade), one listing the columns the downgrade
    drops, and one per NOT NULL column that existing rows cannot fill (either way).
    """
    upgrade, downgrade = script.upgrade_ops, script.downgrade_ops
    assert upgrade is not None and downgrade is not None
    apply_table_renames(script, context, renames, ask)
    apply_renames(script, context, renames, ask)
    if upgrade.is_empty():
        return False
    metadata = context.opts.get("target_metadata")
    if isinstance(metadata, sa.MetaData):
        recreate_checks_of_renamed_columns(script, context, metadata)
    for message in data_loss_warnings(script):
        warn(message)
    dialect = context.dialect
    backfill_new_columns(upgrade, defaults or {}, warn, dialect)
    backfill_new_columns(downgrade, {}, warn, dialect, step="downgrade")
    assert context.connection is not None
    before = reflected_foreign_keys(context.connection)
    after = foreign_keys_of_metadata(metadata) if isinstance(metadata, sa.MetaData) else []
    for container, existing, target in ((upgrade, before, after), (downgrade, after, before)):
        drop_index_drops_of_dropped_tables(container)
        order_operations(container, existing, target)
        add_enum_operations(container)
        put_enum_value_changes_outside(container, first=container is upgrade)
        portable_checks(container)
    models = metadata if isinstance(metadata, sa.MetaData) else None
    fill_nulls_before_not_null(upgrade, models, defaults or {}, warn)
    return True
