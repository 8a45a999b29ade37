"""Column renames, which Alembic's autogenerate sees as a dropped and an added column.

:func:`apply_renames` rewrites such a pair into one ``alter_column(..., new_column_name=...)``
(batch mode on SQLite) so the data is kept, when the user confirmed the rename (``--rename
table.old:new``, or "yes" to the question asked on a terminal). Every drop that is left is
reported by :func:`data_loss_warnings` so nothing disappears without the user being told.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from alembic.operations import ops
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column
from sqlalchemy.types import TypeDecorator, TypeEngine

from migrations.errors import MigrationError
from migrations.ordering import plain_type

__all__ = [
    "AskRename",
    "Rename",
    "apply_renames",
    "compatible",
    "data_loss_warnings",
    "recreate_checks_of_renamed_columns",
    "same_columns",
]


@dataclass(frozen=True)
class Rename:
    """Column ``old`` of ``table`` is now called ``new``; with ``table=None``, table ``old`` is
    now called ``new`` (see ``of_table``)."""

    table: str | None
    old: str
    new: str

    @classmethod
    def of_table(cls, old: str, new: str) -> Rename:
        """Table ``old`` is now called ``new`` (a renamed model, or its ``tablename``)."""
        return cls(None, old, new)

    @classmethod
    def parse(cls, spec: str) -> Rename:
        """Parse ``"table.old:new"`` (a column) or ``"old=new"`` (a table).

        Raise ``MigrationError`` when ``spec`` is neither.
        """
        old_table, equals, new_table = spec.partition("=")
        if equals:
            if not (old_table and new_table) or any(c in spec for c in ".:") or "=" in new_table:
                raise MigrationError(
                    f"--rename {spec!r} must look like 'table.old_column:new_column' or "
                    "'old_table=new_table'"
                )
            return cls.of_table(old_table, new_table)
        target, _, new = spec.partition(":")
        table, _, old = target.rpartition(".")
        if not (table and old and new) or "." in new:
            raise MigrationError(
                f"--rename {spec!r} must look like 'table.old_column:new_column' or "
                "'old_table=new_table'"
            )
        return cls(table, old, new)

    @property
    def question(self) -> str:
        """What to ask the user about this rename."""
        if self.table is None:
            return f"Was table {self.old} renamed to {self.new}?"
        return f"Was {self.table}.{self.old} renamed to {self.table}.{self.new}?"

    def __str__(self) -> str:
        if self.table is None:
            return f"{self.old}={self.new}"
        return f"{self.table}.{self.old}:{self.new}"


#: Asked for each plausible rename; returns True when the user confirms it.
AskRename = Callable[[Rename], bool]


def _family(type_: TypeEngine[Any]) -> type[Any] | None:
    """The broad kind of a type (strings, integers...); a native enum is a kind of its own."""
    if isinstance(type_, TypeDecorator):
        type_ = type_.impl_instance
    if isinstance(type_, sa.Enum) and type_.native_enum:
        return sa.Enum
    return type_._type_affinity


def compatible(old: Column[Any], new: Column[Any]) -> bool:
    """Whether a column of type ``old`` could have become one of type ``new`` (same kind)."""
    old_family, new_family = _family(old.type), _family(new.type)
    if old_family is None or new_family is None:
        return False
    if sa.Enum in (old_family, new_family):
        return old_family is new_family
    return issubclass(old_family, new_family) or issubclass(new_family, old_family)


def same_columns(drop: ops.DropTableOp, create: ops.CreateTableOp) -> bool:
    """Whether a dropped and a created table look like one table renamed (the same columns)."""
    old = {column.name: column for column in drop.to_table().columns}
    new = {column.name: column for column in create.to_table().columns}
    return set(old) == set(new) and all(compatible(old[name], new[name]) for name in old)


def _rename_ops(
    table: ops.ModifyTableOps,
    old: Column[Any],
    new: Column[Any],
    context: MigrationContext,
    reverse_table: str,
) -> tuple[ops.AlterColumnOp, ops.AlterColumnOp]:
    """The upgrade and downgrade ``alter_column`` operations of one rename (the downgrade's on
    ``reverse_table``: the table's name then, if the revision also renames the table)."""
    type_changed = bool(context.impl.compare_type(old, new))
    nullable_changed = old.nullable != new.nullable
    common = {"schema": table.schema}
    upgrade = ops.AlterColumnOp(
        table.table_name,
        old.name,
        modify_name=new.name,
        existing_type=plain_type(old.type, context.dialect),
        existing_nullable=old.nullable,
        existing_server_default=old.server_default or False,
        modify_type=new.type if type_changed else None,
        modify_nullable=new.nullable if nullable_changed else None,
        **common,
    )
    downgrade = ops.AlterColumnOp(
        reverse_table,
        new.name,
        modify_name=old.name,
        existing_type=plain_type(new.type, context.dialect),
        existing_nullable=new.nullable,
        existing_server_default=new.server_default or False,
        modify_type=old.type if type_changed else None,
        modify_nullable=old.nullable if nullable_changed else None,
        **common,
    )
    return upgrade, downgrade


def _replace(
    table: ops.ModifyTableOps,
    first: ops.MigrateOperation,
    second: ops.MigrateOperation,
    by: ops.MigrateOperation,
) -> None:
    index = min(table.ops.index(first), table.ops.index(second))
    table.ops.remove(first)
    table.ops.remove(second)
    table.ops.insert(index, by)


def _column_ops(
    table: ops.ModifyTableOps,
) -> tuple[dict[str, ops.DropColumnOp], dict[str, ops.AddColumnOp]]:
    drops = {op.column_name: op for op in table.ops if isinstance(op, ops.DropColumnOp)}
    adds = {op.column.name: op for op in table.ops if isinstance(op, ops.AddColumnOp)}
    return drops, adds


def _table_ops(container: ops.OpContainer) -> dict[tuple[str | None, str], ops.ModifyTableOps]:
    return {
        (op.schema, op.table_name): op for op in container.ops if isinstance(op, ops.ModifyTableOps)
    }


def _questions(
    table: str,
    drops: dict[str, ops.DropColumnOp],
    adds: dict[str, ops.AddColumnOp],
    answered: Sequence[Rename],
    ask: AskRename,
) -> list[Rename]:
    """Ask about each compatible (dropped, added) pair not settled yet; return the yeses."""
    taken = {r.old for r in answered} | {r.new for r in answered}
    confirmed = []
    for old, drop in drops.items():
        if old in taken:
            continue
        for new, add in adds.items():
            if new in taken or not compatible(drop.to_column(), add.column):
                continue
            candidate = Rename(table, old, new)
            if ask(candidate):
                confirmed.append(candidate)
                taken |= {old, new}
                break
    return confirmed


def _reverse_of(
    downgrade: ops.DowngradeOps, table: ops.ModifyTableOps, rename: Rename
) -> ops.ModifyTableOps | None:
    """The downgrade's block that adds the old column back and drops the new one (the same
    table's, or the one of the table's name before a rename in the same revision)."""
    found = []
    for block in downgrade.ops:
        if isinstance(block, ops.ModifyTableOps) and block.schema == table.schema:
            back_drops, back_adds = _column_ops(block)
            if rename.old in back_adds and rename.new in back_drops:
                found.append(block)
    found.sort(key=lambda block: block.table_name != table.table_name)
    return found[0] if found else None


def apply_renames(
    script: ops.MigrationScript,
    context: MigrationContext,
    renames: Sequence[Rename] = (),
    ask: AskRename | None = None,
) -> None:
    """Turn confirmed drop-and-add pairs of ``script`` into column renames, in place.

    ``renames`` are confirmed up front; raise :class:`MigrationError` (before any question is
    asked) when one of them does not match a dropped and an added column of its table. Other
    pairs of a dropped and an added column of compatible types in one table are put to ``ask``.
    """
    assert script.upgrade_ops is not None and script.downgrade_ops is not None
    tables = _table_ops(script.upgrade_ops)
    by_name = {table.table_name: table for table in tables.values()}
    renames = [rename for rename in renames if rename.table is not None]
    for rename in renames:
        found = by_name.get(rename.table or "")
        drops, adds = _column_ops(found) if found is not None else ({}, {})
        if rename.old not in drops:
            raise MigrationError(
                f"--rename {rename}: table {rename.table!r} loses no column {rename.old!r}"
            )
        if rename.new not in adds:
            raise MigrationError(
                f"--rename {rename}: table {rename.table!r} gains no column {rename.new!r}"
            )
    for table in tables.values():
        drops, adds = _column_ops(table)
        confirmed = [r for r in renames if r.table == table.table_name]
        if ask is not None:
            confirmed += _questions(table.table_name, drops, adds, confirmed, ask)
        for rename in confirmed:
            old_column, new_column = drops[rename.old].to_column(), adds[rename.new].column
            reverse = _reverse_of(script.downgrade_ops, table, rename)
            reverse_table = reverse.table_name if reverse is not None else table.table_name
            upgrade, downgrade = _rename_ops(table, old_column, new_column, context, reverse_table)
            _replace(table, drops[rename.old], adds[rename.new], upgrade)
            if reverse is not None:
                back_drops, back_adds = _column_ops(reverse)
                _replace(reverse, back_adds[rename.old], back_drops[rename.new], downgrade)


def _renamed_columns(container: ops.OpContainer) -> list[tuple[ops.ModifyTableOps, str, str]]:
    return [
        (table, op.column_name, op.modify_name)
        for table in container.ops
        if isinstance(table, ops.ModifyTableOps)
        for op in table.ops
        if isinstance(op, ops.AlterColumnOp) and op.modify_name is not None
    ]


def _changed_constraints(container: ops.OpContainer) -> set[Any]:
    return {
        getattr(op, "constraint_name", None)
        for table in container.ops
        if isinstance(table, ops.ModifyTableOps)
        for op in table.ops
        if isinstance(op, ops.DropConstraintOp | ops.AddConstraintOp)
    }


def recreate_checks_of_renamed_columns(
    script: ops.MigrationScript, context: MigrationContext, metadata: sa.MetaData
) -> None:
    """Drop and create again, around a column rename, the named CHECK constraints using it.

    PostgreSQL and MySQL follow the rename inside the constraint; SQLite's table copy keeps the
    old column name in it and fails. The same name is kept (the constraint does not change).
    """
    assert script.upgrade_ops is not None and script.downgrade_ops is not None
    assert context.connection is not None
    inspector = sa.inspect(context.connection)
    changed = _changed_constraints(script.upgrade_ops)
    reverse_blocks = {
        (new, old): table for table, new, old in _renamed_columns(script.downgrade_ops)
    }
    for table, old, new in _renamed_columns(script.upgrade_ops):
        model_table = metadata.tables.get(table.table_name)
        if model_table is None or not inspector.has_table(table.table_name):
            continue  # a table renamed in the same revision: its checks are compared anew
        existing = {
            check["name"]: check["sqltext"]
            for check in inspector.get_check_constraints(table.table_name)
            if check.get("name")
        }
        for check in model_table.constraints:
            name = check.name
            if not isinstance(check, sa.CheckConstraint) or name not in existing:
                continue
            if new not in check.columns or name in changed:
                continue
            table.ops.append(ops.DropConstraintOp(name, table.table_name, "check"))
            table.ops.append(ops.CreateCheckConstraintOp.from_constraint(check))
            reverse = reverse_blocks.get((new, old))
            if reverse is not None:
                reverse.ops.append(ops.DropConstraintOp(name, reverse.table_name, "check"))
                reverse.ops.append(
                    ops.CreateCheckConstraintOp(name, reverse.table_name, existing[name])
                )


def data_loss_warnings(script: ops.MigrationScript) -> list[str]:
    """One warning per table or column that the upgrade of ``script`` drops, and one naming
    the columns its downgrade drops."""
    warnings = []
    assert script.upgrade_ops is not None
    created = [op for op in script.upgrade_ops.ops if isinstance(op, ops.CreateTableOp)]
    for op in script.upgrade_ops.ops:
        if isinstance(op, ops.DropTableOp):
            hint = ""
            candidates = [c.table_name for c in created if same_columns(op, c)]
            if candidates:
                hint = (
                    f" (if it was renamed, run again with --rename {op.table_name}={candidates[0]})"
                )
            warnings.append(f"table {op.table_name} is dropped: its data will be lost{hint}")
        elif isinstance(op, ops.ModifyTableOps):
            drops, adds = _column_ops(op)
            for old, drop in drops.items():
                hint = ""
                candidates = [n for n, a in adds.items() if compatible(drop.to_column(), a.column)]
                if candidates:
                    hint = (
                        f" (if it was renamed, run again with --rename "
                        f"{op.table_name}.{old}:{candidates[0]})"
                    )
                warnings.append(
                    f"column {op.table_name}.{old} is dropped: its data will be lost{hint}"
                )
    assert script.downgrade_ops is not None
    reverted = [
        f"{op.table_name}.{name}"
        for op in script.downgrade_ops.ops
        if isinstance(op, ops.ModifyTableOps)
        for name in _column_ops(op)[0]
    ]
    if reverted:
        warnings.append(
            f"downgrading this revision drops column{'s' if len(reverted) > 1 else ''} "
            f"{', '.join(reverted)}: the data in {'them' if len(reverted) > 1 else 'it'} "
            "will be lost"
        )
    return warnings
