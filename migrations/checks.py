"""Named CHECK constraints whose convention name is longer than the database allows.

SQLAlchemy shortens a naming-convention name past the database's identifier limit (63
characters on PostgreSQL, 64 on MySQL) to a stable prefix and hash
(``ck_<table>_<name>`` → ``ck_<table…>_f868``) when it creates the constraint. Alembic's
comparison of check constraints by name (``alembic.ext.checkconstraint_byname``) compares the
models' full names with the database's shortened ones, so a long-named check looked dropped
and added after every ``migrate``. The ``migrations.checks`` comparator, run after Alembic's,
takes back each such drop-and-add pair of one constraint. (Alembic's own comparison of indexes
and unique constraints already shortens names first.)
"""

from __future__ import annotations

import sys
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate.api import AutogenContext
from alembic.operations import ops
from alembic.runtime.plugins import Plugin
from alembic.util import DispatchPriority, PriorityDispatchResult, sqla_compat
from sqlalchemy.engine import Dialect

__all__ = ["PLUGIN", "final_name"]

#: The plugin's name, for ``autogenerate_plugins``.
PLUGIN = "migrations.checks"


def final_name(constraint: sa.Constraint | sa.Index, dialect: Dialect) -> str | None:
    """The name ``constraint`` gets in ``dialect``'s DDL (a long convention name shortened)."""
    return sqla_compat._get_constraint_final_name(constraint, dialect)


def _same_checks_under_long_names(
    autogen_context: AutogenContext,
    modify_table_ops: ops.ModifyTableOps,
    schema: str | None,
    tname: str,
    conn_table: sa.Table | None,
    metadata_table: sa.Table | None,
) -> PriorityDispatchResult:
    dialect = autogen_context.dialect
    assert dialect is not None
    dropped = {
        str(op.constraint_name): op
        for op in modify_table_ops.ops
        if isinstance(op, ops.DropConstraintOp) and op.constraint_type == "check"
    }
    undone: list[Any] = []
    for op in modify_table_ops.ops:
        if not isinstance(op, ops.CreateCheckConstraintOp) or op.constraint_name is None:
            continue
        name = final_name(op.to_constraint(), dialect)
        if name != op.constraint_name and name in dropped:
            undone += [op, dropped.pop(name)]
    modify_table_ops.ops[:] = [op for op in modify_table_ops.ops if op not in undone]
    return PriorityDispatchResult.CONTINUE


def setup(plugin: Plugin) -> None:
    """Register the comparator (Alembic's plugin entry point)."""
    plugin.add_autogenerate_comparator(
        _same_checks_under_long_names,
        "table",
        "checkconstraints",
        priority=DispatchPriority.LAST,
    )


Plugin.setup_plugin_from_module(sys.modules[__name__], PLUGIN)
