"""Short descriptions of Alembic's autogenerate differences, for ``check``'s message."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

__all__ = ["describe_diff"]


def _name(obj: Any) -> str:
    if isinstance(obj, sa.Table):
        return obj.name
    if isinstance(obj, sa.Column):
        return f"{obj.table.name}.{obj.name}" if obj.table is not None else str(obj.name)
    if isinstance(obj, sa.Index | sa.Constraint):
        table = obj.table.name if obj.table is not None else "?"
        return f"{obj.name or '(unnamed)'} on {table}"
    return str(obj)


def describe_diff(diff: Any) -> str:
    """Describe one entry of ``UpgradeOps.as_diffs()`` as ``"add column 'books.isbn'"``."""
    if isinstance(diff, list):
        return "; ".join(describe_diff(item) for item in diff)
    kind, *rest = diff
    words = str(kind).replace("_", " ")
    if kind == "modify_enum_values":  # (kind, schema, type name, old values, new values)
        return f"{words} '{rest[1]}' ({', '.join(rest[2])} -> {', '.join(rest[3])})"
    if kind.startswith("modify_") or kind == "remove_column":
        # (kind, schema, table, column-name-or-Column, ...)
        column = rest[2].name if isinstance(rest[2], sa.Column) else rest[2]
        return f"{words} '{rest[1]}.{column}'"
    if kind == "add_column":
        return f"{words} '{rest[1]}.{rest[2].name}'"
    return f"{words} '{_name(rest[0])}'" if rest else words
