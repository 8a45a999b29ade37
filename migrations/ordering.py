"""The order of a revision's operations, the way Django's schema editor does it.

Alembic's autogenerate lists a table's changes as columns, then indexes and unique constraints,
then foreign keys. MySQL/MariaDB refuse several of those orders (an index a foreign key still
needs cannot be dropped; a column a foreign key uses or points to cannot change type), and
SQLite's batch mode cannot rename a column and re-index it in one table copy. So every
revision is put in this order, on every backend (a revision must run wherever it is applied):

1. the foreign keys that go away or are in the way are dropped: those the revision drops, and
   those on or pointing to a column whose type changes (they are created again at the end);
   the check constraints that go away too (SQLite's table copy of a rename would keep one that
   names the old column);
2. table renames, then column renames, each table's in a block of their own;
3. everything else, in Alembic's order, except that a table's new indexes are created before
   its old ones are dropped (MySQL keeps a foreign key's index until another one can serve);
4. the foreign keys and check constraints are created, after the columns and indexes they
   need.

A type change between kinds (``Boolean`` to ``Integer``, text to a number) also gets
PostgreSQL's ``USING column::type`` cast, which PostgreSQL needs where it has no implicit cast.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import render_op_text, renderers
from alembic.autogenerate.api import AutogenContext
from alembic.operations import ops
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = [
    "AlterColumnUsing",
    "NamedForeignKey",
    "foreign_keys_of_metadata",
    "order_operations",
    "plain_type",
    "reflected_foreign_keys",
]


@dataclass(frozen=True)
class NamedForeignKey:
    """One named foreign key as it exists before a list of operations runs."""

    name: str
    table: str
    columns: tuple[str, ...]
    referred_table: str
    referred_columns: tuple[str, ...]
    options: tuple[tuple[str, Any], ...] = ()
    schema: str | None = None
    referred_schema: str | None = None

    def create(self) -> ops.CreateForeignKeyOp:
        return ops.CreateForeignKeyOp(
            self.name,
            self.table,
            self.referred_table,
            list(self.columns),
            list(self.referred_columns),
            source_schema=self.schema,
            referent_schema=self.referred_schema,
            **dict(self.options),
        )

    def drop(self) -> ops.DropConstraintOp:
        return ops.DropConstraintOp(
            self.name, self.table, "foreignkey", schema=self.schema, _reverse=self.create()
        )


_FK_OPTIONS = ("ondelete", "onupdate", "deferrable", "initially")


def reflected_foreign_keys(connection: sa.Connection) -> list[NamedForeignKey]:
    """The named foreign keys of every table of the connection's (default) schema."""
    inspector = sa.inspect(connection)
    found = []
    for table in inspector.get_table_names():
        for fk in inspector.get_foreign_keys(table):
            name = fk.get("name")
            if not name:
                continue  # cannot be dropped by name (SQLite's unnamed ones), nor needs to be
            options = fk.get("options") or {}
            found.append(
                NamedForeignKey(
                    name,
                    table,
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                    tuple((key, options[key]) for key in _FK_OPTIONS if options.get(key)),
                )
            )
    return found


def foreign_keys_of_metadata(metadata: sa.MetaData) -> list[NamedForeignKey]:
    """The named foreign keys the models declare (the schema after an upgrade)."""
    found = []
    for table in metadata.tables.values():
        for constraint in table.foreign_key_constraints:
            if not constraint.name:
                continue
            options = {key: getattr(constraint, key, None) for key in _FK_OPTIONS}
            found.append(
                NamedForeignKey(
                    str(constraint.name),
                    table.name,
                    tuple(constraint.column_keys),
                    constraint.referred_table.name,
                    tuple(element.column.name for element in constraint.elements),
                    tuple((key, value) for key, value in options.items() if value),
                    table.schema,
                    constraint.referred_table.schema,
                )
            )
    return found


def plain_type(type_: TypeEngine[Any], dialect: Dialect) -> TypeEngine[Any]:
    """``type_`` without ``TypeDecorator`` layers, as ``dialect`` stores it.

    Alembic's batch mode reads attributes of an ``existing_type`` that a ``TypeDecorator``
    forwards to its implementation, which may not have them (``'String' object has no attribute
    'name'``); the type the database has is what ``existing_type`` means anyway.
    """
    while isinstance(type_, TypeDecorator):
        type_ = type_.load_dialect_impl(dialect)
    return type_


def _affinity(type_: TypeEngine[Any]) -> type[Any] | None:
    while isinstance(type_, TypeDecorator):
        type_ = type_.impl_instance
    affinity = type_._type_affinity
    # JSON and text are different kinds for PostgreSQL (no assignment cast between them).
    return sa.JSON if isinstance(type_, sa.JSON) else affinity


_POSTGRESQL = PGDialect()  # type: ignore[no-untyped-call]


class AlterColumnUsing(ops.AlterColumnOp):
    """``alter_column`` with PostgreSQL's ``USING`` cast (``postgresql_using=``), which
    Alembic's renderer of ``alter_column`` leaves out."""

    @classmethod
    def of(cls, op: ops.AlterColumnOp, using: str) -> AlterColumnUsing:
        copy = cls.__new__(cls)
        copy.__dict__.update(op.__dict__)
        copy.kw = {**op.kw, "postgresql_using": using}
        return copy


@renderers.dispatch_for(AlterColumnUsing)
def _render_alter_column_using(autogen_context: AutogenContext, op: AlterColumnUsing) -> str:
    plain = ops.AlterColumnOp.__new__(ops.AlterColumnOp)
    plain.__dict__.update(op.__dict__)
    text = render_op_text(autogen_context, plain).rstrip()
    assert text.endswith(")")
    return f"{text[:-1]},\n           postgresql_using={op.kw['postgresql_using']!r})"


def _postgresql_cast(op: ops.AlterColumnOp) -> ops.AlterColumnOp:
    """``op``, with PostgreSQL's ``USING column::new_type`` for a change between kinds."""
    old, new = op.existing_type, op.modify_type
    if old is None or new is None or op.kw.get("postgresql_using"):
        return op
    old_kind, new_kind = _affinity(sa.types.to_instance(old)), _affinity(sa.types.to_instance(new))
    if old_kind is None or new_kind is None:
        return op
    if issubclass(old_kind, new_kind) or issubclass(new_kind, old_kind):
        return op  # same kind: PostgreSQL converts by itself (and refuses what would not fit)
    try:
        target = sa.types.to_instance(new).compile(dialect=_POSTGRESQL)
    except sa.exc.CompileError:
        return op  # another database's own type (LONGBLOB): this revision is for that one
    column = _POSTGRESQL.identifier_preparer.quote(op.column_name)
    return AlterColumnUsing.of(op, f"{column}::{target}")


def _type_changes(container: ops.OpContainer) -> set[tuple[str, str]]:
    changed = set()
    for table in container.ops:
        if isinstance(table, ops.ModifyTableOps):
            for op in table.ops:
                if isinstance(op, ops.AlterColumnOp) and op.modify_type is not None:
                    changed.add((table.table_name, op.column_name))
    return changed


def _in_the_way(
    foreign_keys: Iterable[NamedForeignKey], changed: set[tuple[str, str]]
) -> list[NamedForeignKey]:
    """Foreign keys on, or pointing to, a column whose type changes."""
    return [
        fk
        for fk in foreign_keys
        if any((fk.table, column) in changed for column in fk.columns)
        or any((fk.referred_table, column) in changed for column in fk.referred_columns)
    ]


def _dropped_first(op: ops.MigrateOperation) -> bool:
    return isinstance(op, ops.DropConstraintOp) and op.constraint_type in ("foreignkey", "check")


def _created_last(op: ops.MigrateOperation) -> bool:
    return isinstance(op, ops.CreateForeignKeyOp | ops.CreateCheckConstraintOp)


def _indexes_created_first(inner: list[ops.MigrateOperation]) -> list[ops.MigrateOperation]:
    """Move index creations ahead of the table's index drops (unless one reuses a dropped
    name): MySQL refuses to drop the one index a foreign key uses, not one of two."""
    dropped = [op for op in inner if isinstance(op, ops.DropIndexOp)]
    if not dropped:
        return inner
    names = {op.index_name for op in dropped}
    early = [op for op in inner if isinstance(op, ops.CreateIndexOp) and op.index_name not in names]
    result = [op for op in inner if op not in early]
    at = result.index(dropped[0])
    return [*result[:at], *early, *result[at:]]


def _block(table: ops.ModifyTableOps, inner: list[ops.MigrateOperation]) -> ops.ModifyTableOps:
    return ops.ModifyTableOps(table.table_name, inner, schema=table.schema)


def _named_as(fk: NamedForeignKey, target: Iterable[NamedForeignKey]) -> NamedForeignKey:
    """``fk`` under the name ``target`` (the models) gives the same key, if it has one."""
    for key in target:
        if (key.table, key.columns, key.referred_table, key.referred_columns) == (
            fk.table,
            fk.columns,
            fk.referred_table,
            fk.referred_columns,
        ):
            return key
    return fk


def order_operations(
    container: ops.OpContainer,
    existing: Iterable[NamedForeignKey],
    target: Iterable[NamedForeignKey] = (),
) -> None:
    """Put the operations of ``container`` in the order described above, in place.

    ``existing`` are the foreign keys the schema has before ``container`` runs (the reflected
    ones for an upgrade, the models' for a downgrade); those in the way of a type change are
    dropped first and created again last, under the name ``target`` gives them (the models'
    keys for an upgrade, the reflected ones for a downgrade), so that the other direction finds
    them by the name it expects.
    """
    target = list(target)
    dropped_tables = {
        (op.schema, op.table_name) for op in container.ops if isinstance(op, ops.DropTableOp)
    }
    table_renames: list[ops.MigrateOperation] = []
    column_renames: list[ops.MigrateOperation] = []
    middle: list[ops.MigrateOperation] = []
    drops: dict[tuple[str | None, str], list[ops.MigrateOperation]] = {}
    creates: dict[tuple[str | None, str], list[ops.MigrateOperation]] = {}
    dropped_names: set[tuple[str, object]] = set()
    created_names: set[tuple[str, object]] = set()
    for op in container.ops:
        if isinstance(op, ops.RenameTableOp):
            table_renames.append(op)
            continue
        if not isinstance(op, ops.ModifyTableOps):
            middle.append(op)
            continue
        key = (op.schema, op.table_name)
        renames: list[ops.MigrateOperation] = []
        rest: list[ops.MigrateOperation] = []
        for inner in op.ops:
            if _dropped_first(inner):
                drops.setdefault(key, []).append(inner)
                dropped_names.add((op.table_name, inner.constraint_name))  # type: ignore[attr-defined]
            elif _created_last(inner):
                creates.setdefault(key, []).append(inner)
                created_names.add((op.table_name, inner.constraint_name))  # type: ignore[attr-defined]
            elif isinstance(inner, ops.AlterColumnOp):
                altered = _postgresql_cast(inner)
                (renames if inner.modify_name is not None else rest).append(altered)
            else:
                rest.append(inner)
        if renames:
            column_renames.append(_block(op, renames))
        if rest:
            middle.append(_block(op, _indexes_created_first(rest)))
    for fk in _in_the_way(existing, _type_changes(container)):
        key = (fk.schema, fk.table)
        if key in dropped_tables or (fk.table, fk.name) in dropped_names:
            continue
        drops.setdefault(key, []).append(fk.drop())
        if (fk.table, fk.name) not in created_names:
            creates.setdefault(key, []).append(_named_as(fk, target).create())
    fk_drops = [ops.ModifyTableOps(t, inner, schema=s) for (s, t), inner in drops.items()]
    last = [ops.ModifyTableOps(t, inner, schema=s) for (s, t), inner in creates.items()]
    container.ops[:] = [*fk_drops, *table_renames, *column_renames, *middle, *last]
