"""Table (and model) renames, which Alembic's autogenerate sees as a dropped and a created table.

A confirmed rename (``--rename old_table=new_table``, or "yes" to the question) becomes
``op.rename_table`` followed by whatever else changed in that table, so the rows are kept. What
else changed is found by comparing the database's table with the model's table presented under
the old name: the same comparison Alembic makes for any table, so column, index, constraint and
foreign key changes of a renamed table are migrated like those of any other. Indexes,
constraints and keys named after the table (the naming convention) are renamed with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import produce_migrations, renderers
from alembic.autogenerate.api import AutogenContext
from alembic.operations import ops
from alembic.runtime.migration import MigrationContext
from sqlalchemy.sql.elements import conv
from sqlalchemy.sql.schema import ColumnCollectionConstraint

from migrations.checks import final_name
from migrations.errors import MigrationError
from migrations.operations import RenamePrimaryKeyOp
from migrations.ordering import foreign_keys_of_metadata, reflected_foreign_keys
from migrations.renames import AskRename, Rename, same_columns

__all__ = ["apply_table_renames"]


@renderers.dispatch_for(ops.RenameTableOp)
def _render_rename_table(autogen_context: AutogenContext, op: ops.RenameTableOp) -> str:
    """``op.rename_table('old', 'new')`` (Alembic has the operation but renders none)."""
    schema = f", schema={op.schema!r}" if op.schema else ""
    return f"op.rename_table({op.table_name!r}, {op.new_table_name!r}{schema})"


def _confirmed(
    drops: dict[str, ops.DropTableOp],
    creates: dict[str, ops.CreateTableOp],
    renames: Sequence[Rename],
    ask: AskRename | None,
) -> list[Rename]:
    confirmed = [rename for rename in renames if rename.table is None]
    for rename in confirmed:
        if rename.old not in drops:
            raise MigrationError(f"--rename {rename}: no table {rename.old!r} is dropped")
        if rename.new not in creates:
            raise MigrationError(f"--rename {rename}: no table {rename.new!r} is created")
    if ask is None:
        return confirmed
    taken = {r.old for r in confirmed} | {r.new for r in confirmed}
    for old, drop in drops.items():
        if old in taken:
            continue
        for new, create in creates.items():
            if new in taken or not same_columns(drop, create):
                continue
            candidate = Rename.of_table(old, new)
            if ask(candidate):
                confirmed.append(candidate)
                taken |= {old, new}
                break
    return confirmed


def _as_old(table: sa.Table, old: str, metadata: sa.MetaData) -> sa.Table:
    """A copy of the model's ``table`` called ``old``, keeping the names of its indexes and
    constraints (which a naming convention derived from the new table name)."""
    copy = table.to_metadata(metadata, name=old)
    names: dict[tuple[Any, ...], Any] = {
        (type(item), tuple(item.columns.keys())): item.name
        for item in [*table.indexes, *table.constraints]
        if isinstance(item, sa.Index | ColumnCollectionConstraint)
        and not isinstance(item, sa.PrimaryKeyConstraint)
    }
    for item in [*copy.indexes, *copy.constraints]:
        if not isinstance(item, sa.Index | ColumnCollectionConstraint):
            continue
        name = names.get((type(item), tuple(item.columns.keys())))
        if name is not None and not isinstance(item, sa.PrimaryKeyConstraint):
            item.name = conv(name)
    return copy


def _filters(
    context: MigrationContext, tables: set[str]
) -> tuple[Callable[..., bool], Callable[..., bool]]:
    user_filter = context.opts.get("include_object")

    def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
        return type_ != "table" or name in tables

    def include_object(
        obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
    ) -> bool:
        if type_ == "table" and name not in tables:
            return False
        return user_filter is None or bool(user_filter(obj, name, type_, reflected, compare_to))

    return include_name, include_object


def _compare_renamed(
    context: MigrationContext, metadata: sa.MetaData, confirmed: list[Rename]
) -> ops.MigrationScript:
    """Compare each renamed table of the database with its model presented under the old name."""
    presented = sa.MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.sorted_tables:
        table.to_metadata(presented)  # what foreign keys of the renamed tables point to
    for rename in confirmed:
        _as_old(metadata.tables[rename.new], rename.old, presented)
    include_name, include_object = _filters(context, {rename.old for rename in confirmed})
    options = {
        **context.opts,
        "target_metadata": presented,
        "include_name": include_name,
        "include_object": include_object,
    }
    assert context.connection is not None
    comparing = MigrationContext.configure(connection=context.connection, opts=options)
    return produce_migrations(comparing, presented)


def _retarget(
    changes: ops.ModifyTableOps, first_name: str, then_name: str, referents: dict[str, str]
) -> list[ops.ModifyTableOps]:
    """Split a renamed table's changes: its foreign key and check drops (which run first, before
    the rename) under ``first_name``, the rest under ``then_name``; foreign keys created point
    to the tables' names after the renames (``referents`` maps the others)."""
    drops: list[ops.MigrateOperation] = []
    rest: list[ops.MigrateOperation] = []
    for op in changes.ops:
        is_fk_drop = isinstance(op, ops.DropConstraintOp) and op.constraint_type in (
            "foreignkey",
            "check",
        )
        name = first_name if is_fk_drop else then_name
        for attribute in ("table_name", "source_table"):
            if hasattr(op, attribute):
                setattr(op, attribute, name)
        if isinstance(op, ops.CreateForeignKeyOp):
            op.referent_table = referents.get(op.referent_table, op.referent_table)
        (drops if is_fk_drop else rest).append(op)
    blocks = []
    if drops:
        blocks.append(ops.ModifyTableOps(first_name, drops, schema=changes.schema))
    if rest:
        blocks.append(ops.ModifyTableOps(then_name, rest, schema=changes.schema))
    return blocks


def _of_tables(op: ops.MigrateOperation, names: set[str]) -> bool:
    return (
        isinstance(op, ops.CreateTableOp | ops.DropTableOp | ops.ModifyTableOps)
        and op.table_name in names
    )


def apply_table_renames(
    script: ops.MigrationScript,
    context: MigrationContext,
    renames: Sequence[Rename] = (),
    ask: AskRename | None = None,
) -> None:
    """Turn confirmed pairs of a dropped and a created table into table renames, in place.

    ``renames`` holds the confirmed table renames (others are ignored here); raise
    :class:`MigrationError` when one does not match a dropped and a created table. Other pairs
    with the same column names and compatible types are put to ``ask``.
    """
    upgrade, downgrade = script.upgrade_ops, script.downgrade_ops
    assert upgrade is not None and downgrade is not None
    drops = {op.table_name: op for op in upgrade.ops if isinstance(op, ops.DropTableOp)}
    creates = {op.table_name: op for op in upgrade.ops if isinstance(op, ops.CreateTableOp)}
    confirmed = _confirmed(drops, creates, renames, ask)
    if not confirmed:
        return
    metadata = context.opts.get("target_metadata")
    assert isinstance(metadata, sa.MetaData)
    compared = _compare_renamed(context, metadata, confirmed)
    assert compared.upgrade_ops is not None and compared.downgrade_ops is not None
    involved = {r.old for r in confirmed} | {r.new for r in confirmed}
    new_name = {r.old: r.new for r in confirmed}
    upgrade.ops[:] = [op for op in upgrade.ops if not _of_tables(op, involved)]
    downgrade.ops[:] = [op for op in downgrade.ops if not _of_tables(op, involved)]
    for rename in confirmed:
        upgrade.ops.append(ops.RenameTableOp(rename.old, rename.new))
        downgrade.ops.append(ops.RenameTableOp(rename.new, rename.old))
    for changes in compared.upgrade_ops.ops:
        if isinstance(changes, ops.ModifyTableOps):
            old = changes.table_name
            upgrade.ops.extend(_retarget(changes, old, new_name[old], new_name))
    for changes in compared.downgrade_ops.ops:
        if isinstance(changes, ops.ModifyTableOps):
            old = changes.table_name
            downgrade.ops.extend(_retarget(changes, new_name[old], old, {}))
    _rename_keys(script, context, metadata, confirmed, compared.upgrade_ops)


def _dropped_foreign_keys(container: ops.OpContainer) -> set[tuple[str, str]]:
    return {
        (block.table_name, str(op.constraint_name))
        for block in container.ops
        if isinstance(block, ops.ModifyTableOps)
        for op in block.ops
        if isinstance(op, ops.DropConstraintOp) and op.constraint_type == "foreignkey"
    }


def _block(container: ops.OpContainer, table: str) -> ops.ModifyTableOps:
    """The operations on ``table`` in ``container`` (one block per table: later steps look
    blocks up by table)."""
    for op in container.ops:
        if isinstance(op, ops.ModifyTableOps) and op.table_name == table and op.schema is None:
            return op
    block = ops.ModifyTableOps(table, [])
    container.ops.append(block)
    return block


def _rename_keys(
    script: ops.MigrationScript,
    context: MigrationContext,
    metadata: sa.MetaData,
    confirmed: list[Rename],
    compared: ops.UpgradeOps,
) -> None:
    """Give a renamed table's primary and foreign keys the names the models give them.

    Convention names hold the table's name (``pk_books``, ``fk_books_author_id_authors``), and a
    name left behind breaks later revisions: a new table of the old name collides with it
    (PostgreSQL's primary key names, MySQL's foreign key names are schema-wide), and a later
    downgrade drops a key by the name the models give it. Foreign keys are dropped and created
    again (MySQL cannot rename them); the primary key is renamed where the name matters.
    """
    assert script.upgrade_ops is not None and script.downgrade_ops is not None
    assert context.connection is not None
    inspector = sa.inspect(context.connection)
    dialect = context.dialect
    new_name = {r.old: r.new for r in confirmed}
    reflected = reflected_foreign_keys(context.connection)
    modelled = foreign_keys_of_metadata(metadata)
    dropped = _dropped_foreign_keys(compared)
    for rename in confirmed:
        model_table = metadata.tables[rename.new]
        for fk in reflected:
            if fk.table != rename.old or (fk.table, fk.name) in dropped:
                continue
            wanted = [
                key
                for key in modelled
                if key.table == rename.new
                and key.columns == fk.columns
                and key.referred_columns == fk.referred_columns
                and key.referred_table == new_name.get(fk.referred_table, fk.referred_table)
            ]
            if not wanted or wanted[0].name == fk.name:
                continue
            _block(script.upgrade_ops, rename.old).ops.append(fk.drop())
            _block(script.upgrade_ops, rename.new).ops.append(wanted[0].create())
            _block(script.downgrade_ops, rename.new).ops.append(wanted[0].drop())
            _block(script.downgrade_ops, rename.old).ops.append(fk.create())
        key_name = final_name(model_table.primary_key, dialect)
        if key_name is None:
            continue
        old_key = inspector.get_pk_constraint(rename.old).get("name")
        if old_key is None:  # not reflected (MySQL): what the convention named it
            presented = sa.MetaData(naming_convention=metadata.naming_convention)
            copy = model_table.to_metadata(presented, name=rename.old)
            old_key = final_name(copy.primary_key, dialect)
        if old_key is not None and old_key != key_name:
            script.upgrade_ops.ops.append(RenamePrimaryKeyOp(rename.new, old_key, key_name))
            script.downgrade_ops.ops.append(RenamePrimaryKeyOp(rename.old, key_name, old_key))
