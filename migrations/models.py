"""What ``migrations`` reads from the user's models: the ``MetaData`` and the column defaults.

The models are an ``orm.ModelRegistry`` (recognised by its ``metadata`` attribute, so this works
with any object shaped like one), a plain ``sqlalchemy.MetaData``, or a ``"module:attribute"``
path naming either.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import conv

from migrations.errors import MigrationError

__all__ = ["Models", "ModelsTarget", "check_identifiers", "load_models"]

#: What the API accepts as "the models": an ``orm.ModelRegistry`` (anything with a ``metadata``
#: attribute holding a ``sqlalchemy.MetaData``), a ``MetaData``, or a ``"module:attribute"`` path
#: naming one of those.
ModelsTarget = str | sa.MetaData | Any


@dataclass(frozen=True)
class Models:
    """The models of one command: their tables, and scalar defaults the tables do not carry."""

    metadata: sa.MetaData
    #: ``(table, column) -> value`` for fields whose default lives only in the orm model.
    defaults: Mapping[tuple[str, str], Any] = field(default_factory=dict)


def load_models(models: ModelsTarget | None) -> Models | None:
    """Return the :class:`Models` behind ``models`` (``None`` stays ``None``).

    A ``"package.module:attribute"`` path is imported (the command line puts the working
    directory on ``sys.path`` first). Raise :class:`MigrationError` with one line when the path
    is malformed, its module fails to import, or the object is neither a registry nor a
    ``MetaData``.
    """
    if models is None:
        return None
    described = repr(models)
    if isinstance(models, str):
        described = models
        models = _import_target(models)
    if isinstance(models, sa.MetaData):
        return Models(models)
    metadata = getattr(models, "metadata", None)
    if isinstance(metadata, sa.MetaData):
        return Models(metadata, _orm_defaults(models))
    raise MigrationError(
        f"models {described} is neither an orm.ModelRegistry nor a sqlalchemy.MetaData "
        f"(got {type(models).__name__})"
    )


def _orm_defaults(registry: Any) -> dict[tuple[str, str], Any]:
    """Constant defaults of the registry's fields (``orm.Integer(default=0)``), by column.

    The orm applies defaults in Python, so they are not on the ``Column``; a new NOT NULL column
    needs them to fill the rows already in the table. Callables are left out.
    """
    defaults: dict[tuple[str, str], Any] = {}
    registered = getattr(registry, "models", None)
    if not isinstance(registered, Mapping):
        return defaults
    for model in registered.values():
        meta = getattr(model, "_meta", None)
        tablename = getattr(meta, "tablename", None)
        fields = getattr(meta, "fields", None)
        if not isinstance(tablename, str) or not isinstance(fields, Mapping):
            continue
        for model_field in fields.values():
            column = getattr(model_field, "column_name", None)
            has_default = getattr(model_field, "has_default", False)
            if isinstance(column, str) and has_default is True:
                value = model_field.default
                if not callable(value):
                    defaults[(tablename, column)] = value
    return defaults


def _import_target(path: str) -> object:
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise MigrationError(
            f"--models {path!r} must name a module attribute as 'package.module:attribute'"
        )
    try:
        target: object = importlib.import_module(module_name)
    except Exception as exc:  # the user's module may fail in any way while importing
        raise MigrationError(
            f"cannot import {module_name!r} (from --models {path!r}): {type(exc).__name__}: {exc}"
        ) from None
    for name in attribute.split("."):
        try:
            target = getattr(target, name)
        except AttributeError:
            raise MigrationError(
                f"--models {path!r}: {module_name!r} has no attribute {attribute!r}"
            ) from None
    return target


def check_identifiers(metadata: sa.MetaData, dialect: Dialect) -> None:
    """Raise :class:`MigrationError` for a name of the models longer than ``dialect`` allows.

    PostgreSQL cuts a longer table or column name to 63 characters without an error, so the
    database would never match the models (every comparison: drop the table, create it
    again). Names made by the naming convention are shortened by SQLAlchemy and are fine.
    """
    limit = dialect.max_identifier_length
    for table in metadata.tables.values():
        named = [(f"table name {table.name!r}", table.name, "the tablename")]
        named += [
            (f"column name {table.name}.{column.name}", column.name, "the field's db_column")
            for column in table.columns
        ]
        items: list[sa.Index | sa.Constraint] = [*table.indexes, *table.constraints]
        named += [
            (f"name {item.name!r} (on table {table.name})", item.name, "its name=")
            for item in items
            if isinstance(item.name, str) and not isinstance(item.name, conv)
        ]
        for subject, name, fix in named:
            if len(name) > limit:
                raise MigrationError(
                    f"{subject} is {len(name)} characters long, and {dialect.name} allows "
                    f"{limit}: shorten {fix}"
                )
