"""The condition of a CHECK constraint in a revision, written for every backend.

An ``orm.CheckConstraint`` condition is an expression that each database gets in its own SQL
(``startswith`` is ``LIKE ... ESCAPE`` on PostgreSQL and MySQL, a byte comparison on SQLite).
Alembic writes it into the revision as the SQL of the database it compared with, so a revision
made on SQLite failed on PostgreSQL, and one made on MySQL held doubled ``%`` signs (MySQL's
driver escaping), which made a ``LIKE`` pattern match more than the model allows.

:func:`render_condition` writes the condition as SQL compiled for each backend, without any
driver's escaping; when the backends agree, as one plain string. Where they differ, the revision
holds ``migrations.check_sql.by_dialect(postgresql=..., mysql=..., sqlite=...)``, which gives
each database its own text when the revision runs.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import render_op_text, renderers
from alembic.autogenerate.api import AutogenContext
from alembic.operations import ops
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import conv

__all__ = ["ByDialect", "PortableCheckOp", "by_dialect", "portable_checks", "render_condition"]


def _dialects() -> tuple[Dialect, ...]:
    """The backends' dialects as they render literals on a default server, with "named"
    parameters: no driver escaping (MySQL's drivers double every %) in the text."""
    pg = postgresql.dialect(paramstyle="named")  # type: ignore[no-untyped-call]
    # What a connection learns from PostgreSQL >= 9.1 (standard_conforming_strings on): a
    # backslash in a string literal is a backslash. Unconnected, SQLAlchemy doubles it.
    pg._backslash_escapes = False
    return (
        pg,
        mysql.dialect(paramstyle="named"),
        sqlite.dialect(paramstyle="named"),
    )


_DIALECTS = _dialects()


class ByDialect(sa.ColumnElement[bool]):
    """A SQL condition given as one text per database (dialect name)."""

    inherit_cache = False  # DDL: compiled once, never cached

    def __init__(self, texts: dict[str, str]) -> None:
        self.texts = texts


def by_dialect(**texts: str) -> ByDialect:
    """The condition whose SQL is ``texts[<dialect name>]`` on each database."""
    return ByDialect(texts)


@compiles(ByDialect)
def _compile_by_dialect(element: ByDialect, compiler: SQLCompiler, **kw: Any) -> str:
    name = compiler.dialect.name
    if name not in element.texts:
        raise sa.exc.CompileError(
            f"this revision has no SQL for {name} in a check constraint (it has "
            f"{', '.join(sorted(element.texts))}): add {name}='...' to its by_dialect(...)"
        )
    return compiler.process(sa.text(element.texts[name]), **kw)


def render_condition(condition: Any, autogen_context: AutogenContext) -> str:
    """Python source of ``condition`` (an expression, or SQL text) for a revision."""
    if isinstance(condition, str):
        return repr(condition)
    texts: dict[str, str] = {}
    for dialect in _DIALECTS:
        try:
            compiled = condition.compile(
                dialect=dialect, compile_kwargs={"literal_binds": True, "include_table": False}
            )
        except sa.exc.CompileError:
            continue  # a construct of one database only: the revision is for that one
        texts[dialect.name] = str(compiled)
    if len(set(texts.values())) == 1:
        return repr(next(iter(texts.values())))
    if autogen_context.imports is not None:
        autogen_context.imports.add("import migrations.check_sql")
    arguments = ", ".join(f"{name}={text!r}" for name, text in texts.items())
    return f"migrations.check_sql.by_dialect({arguments})"


def render_check(constraint: sa.CheckConstraint, autogen_context: AutogenContext) -> str | None:
    """``sa.CheckConstraint(...)`` in a ``create_table``, or None to leave it to Alembic (a
    type's own constraint, dialect options)."""
    if constraint.dialect_kwargs or getattr(constraint, "_type_bound", False):
        return None
    prefix = autogen_context.opts.get("sqlalchemy_module_prefix") or "sa."
    arguments = [render_condition(constraint.sqltext, autogen_context)]
    if isinstance(constraint.name, str):
        arguments.append(f"name={_name(constraint.name, autogen_context)}")
    return f"{prefix}CheckConstraint({', '.join(arguments)})"


def _name(name: str, autogen_context: AutogenContext) -> str:
    if isinstance(name, conv):  # a naming-convention name: op.f() keeps it as it is
        return f"{autogen_context.opts.get('alembic_module_prefix') or 'op.'}f({str(name)!r})"
    return repr(str(name))


class PortableCheckOp(ops.CreateCheckConstraintOp):
    """``create_check_constraint`` whose condition is rendered by :func:`render_condition`."""

    @classmethod
    def of(cls, op: ops.CreateCheckConstraintOp) -> PortableCheckOp:
        copy = cls.__new__(cls)
        copy.__dict__.update(op.__dict__)
        return copy


_PLACEHOLDER = "__migrations_check_condition__"


@renderers.dispatch_for(PortableCheckOp)
def _render_portable_check(autogen_context: AutogenContext, op: PortableCheckOp) -> str:
    plain = ops.CreateCheckConstraintOp.__new__(ops.CreateCheckConstraintOp)
    plain.__dict__.update({**op.__dict__, "condition": _PLACEHOLDER, "_orig_constraint": None})
    text = render_op_text(autogen_context, plain)
    return text.replace(repr(_PLACEHOLDER), render_condition(op.condition, autogen_context))


def portable_checks(container: ops.OpContainer) -> None:
    """Make the ``create_check_constraint`` operations of ``container`` portable, in place."""
    for block in container.ops:
        if isinstance(block, ops.ModifyTableOps):
            block.ops[:] = [
                PortableCheckOp.of(op) if type(op) is ops.CreateCheckConstraintOp else op
                for op in block.ops
            ]
