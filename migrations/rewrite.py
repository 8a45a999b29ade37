"""The changes we make to what Alembic's autogenerate produced, before the file is written.

In order: confirmed renames (:mod:`migrations.renames`); no index drops for tables that are
dropped anyway (MySQL refuses to drop an index a foreign key still needs, and the table drop
takes its indexes with it); named enum types created and dropped (:mod:`migrations.enums`).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic.operations import ops
from alembic.runtime.migration import MigrationContext

from migrations.enums import add_enum_operations
from migrations.renames import AskRename, Rename, apply_renames

__all__ = ["drop_index_drops_of_dropped_tables", "rewrite_script"]


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
) -> bool:
    """Rewrite ``script`` in place; return False when it has nothing to do (no changes)."""
    apply_renames(script, context, renames, ask)
    if script.upgrade_ops is None or script.upgrade_ops.is_empty():
        return False
    for container in (script.upgrade_ops, script.downgrade_ops):
        if container is not None:
            drop_index_drops_of_dropped_tables(container)
            add_enum_operations(container)
    return True
