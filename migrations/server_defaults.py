"""Whether a column's server default in the database is the models' one.

Alembic compares server defaults as text, which the databases rewrite: MariaDB reflects
``now()`` as ``current_timestamp()`` and ``false`` as ``0``, SQLite and MariaDB quote an
apostrophe their own way; on PostgreSQL Alembic asks the database, but writes an apostrophe in
the models' default unescaped, and the query fails. So ``check`` reported differences right after
``migrate`` (or failed). :func:`compare_server_default` asks the database for the values of both
expressions (the models' default as the dialect's own DDL compiler writes it), cast to the
column's type, and compares them.
"""

from __future__ import annotations

import warnings
from typing import Any

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext

__all__ = ["compare_server_default"]


def compare_server_default(
    context: MigrationContext,
    inspected_column: sa.Column[Any],
    metadata_column: sa.Column[Any],
    inspected_default: str | None,
    metadata_default: Any,
    rendered_metadata_default: str | None,
) -> bool | None:
    """Alembic's ``compare_server_default`` hook: True when the defaults differ, False when
    they are the same, None to leave the question to Alembic (a default added or removed, a
    key's sequence, an expression the database cannot evaluate on its own)."""
    connection = context.connection
    if connection is None or inspected_default is None:
        return None
    if not isinstance(metadata_default, sa.DefaultClause):
        return None
    if metadata_column is metadata_column.table.autoincrement_column:
        return None  # SERIAL / AUTO_INCREMENT: Alembic's own rules
    if "nextval(" in inspected_default.lower():
        return None  # evaluating it would advance the sequence
    dialect = context.dialect
    compiler = dialect.ddl_compiler(dialect, sa.schema.CreateTable(metadata_column.table))
    models = compiler.get_column_default_string(metadata_column)
    if models is None:
        return None
    if models == inspected_default:
        return False
    type_ = metadata_column.type
    both = sa.select(
        sa.cast(sa.literal_column(inspected_default), type_),
        sa.cast(sa.literal_column(models), type_),
    )
    try:
        with warnings.catch_warnings():
            # MySQL has no CAST to some types (BOOLEAN): SQLAlchemy leaves it out, and says so.
            warnings.simplefilter("ignore", sa.exc.SAWarning)
            with connection.begin_nested():  # a failed query must not end the transaction
                values = connection.execute(both).one()
    except Exception:  # not evaluable here (or its value not readable as the column's type)
        return None
    return bool(values[0] != values[1])
