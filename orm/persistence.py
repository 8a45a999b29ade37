"""Writing instances: validation on the way in, INSERT/UPDATE/DELETE, keys read back."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from orm.exceptions import FieldError, NoMatch
from orm.fields import REFERENCE

if TYPE_CHECKING:
    from asyncdb import Database
    from orm.fields import Field
    from orm.models import Model

__all__ = ["bulk_insert", "bulk_update", "delete", "insert", "reload", "save", "values_for"]


def values_for(obj: Model, fields: Iterable[Field[Any]], *, adding: bool) -> dict[str, Any]:
    """Run ``pre_save`` hooks, validate and return {attname: value} for ``fields``.

    A field missing from the instance (deferred) is skipped. Validated values are stored back,
    so the instance holds what the database will hold.
    """
    state = obj.__dict__
    values: dict[str, Any] = {}
    for field in fields:
        field.pre_save(obj, adding=adding)
        attname = field.attname
        if attname not in state:
            continue
        value = field.validate(state[attname])
        state[attname] = value
        if value is None and field.primary_key:
            continue  # auto key: the database assigns it
        values[attname] = value
    return values


def _database(obj_or_model: Any) -> Database:
    return obj_or_model._meta.registry.get_database()  # type: ignore[no-any-return]


async def insert(obj: Model, database: Database | None = None) -> None:
    meta = obj._meta
    db = database or _database(obj)
    values = values_for(obj, meta.concrete_fields, adding=True)
    pk = meta.pk
    statement = sa.insert(meta.table).values(values)
    if pk.attname in values:
        await db.execute(statement)
        return
    if db.features.supports_returning:
        key = await db.fetch_val(statement.returning(meta.table.c[pk.attname]))
    else:
        key = (await db.execute(statement)).lastrowid
    obj.__dict__[pk.attname] = key


def _pk_condition(obj: Model) -> sa.ColumnElement[bool]:
    meta = obj._meta
    condition: sa.ColumnElement[bool] = meta.table.c[meta.pk.attname] == obj.pk
    return condition


async def save(obj: Model, *, update_fields: Sequence[str] | None = None) -> None:
    meta = obj._meta
    if obj.pk is None:
        if update_fields is not None:
            raise FieldError(f"cannot save unsaved {meta.name} with update_fields")
        await insert(obj)
        return
    if update_fields is None:
        fields = [f for f in meta.concrete_fields if not f.primary_key]
    else:
        fields = [meta.get_field(name) for name in update_fields]
    values = values_for(obj, fields, adding=False)
    values.pop(meta.pk.attname, None)
    db = _database(obj)
    if values:
        result = await db.execute(sa.update(meta.table).where(_pk_condition(obj)).values(values))
        matched = result.rowcount
    else:
        statement = sa.select(sa.literal(1)).select_from(meta.table).where(_pk_condition(obj))
        matched = 1 if await db.fetch_one(statement) is not None else 0
    if matched == 0 and update_fields is None:
        await insert(obj, db)


async def delete(obj: Model) -> None:
    meta = obj._meta
    if obj.pk is None:
        raise FieldError(f"cannot delete unsaved {meta.name} (pk is None)")
    await _database(obj).execute(sa.delete(meta.table).where(_pk_condition(obj)))
    if meta.pk.auto_increment:
        obj.__dict__[meta.pk.attname] = None


async def reload(obj: Model) -> None:
    meta = obj._meta
    if obj.pk is None:
        raise FieldError(f"cannot load unsaved {meta.name} (pk is None)")
    statement = sa.select(*meta.columns()).where(_pk_condition(obj))
    row = await _database(obj).fetch_one(statement)
    if row is None:
        raise NoMatch(f"{meta.name} with {meta.pk.name}={obj.pk!r} no longer exists")
    obj.__dict__.update(zip(meta.attnames, row, strict=True))
    obj.__dict__.pop(REFERENCE, None)


def _batch_size(db: Database, columns: int, requested: int | None) -> int:
    limit = max(1, db.features.max_bind_params // max(1, columns))
    return min(limit, requested) if requested else limit


async def bulk_insert(
    model: type[Model], objs: Sequence[Model], database: Database, batch_size: int | None
) -> None:
    """Insert ``objs``: one multi-row INSERT per chunk; auto keys are set on the objects."""
    meta = model._meta
    pk = meta.pk
    with_key: list[tuple[Model, dict[str, Any]]] = []
    without_key: list[tuple[Model, dict[str, Any]]] = []
    for obj in objs:
        if type(obj)._meta is not meta:
            raise TypeError(f"bulk_create() on {meta.name} got a {type(obj).__name__}")
        values = values_for(obj, meta.concrete_fields, adding=True)
        (with_key if pk.attname in values else without_key).append((obj, values))
    table = meta.table
    for group in (with_key, without_key):
        if not group:
            continue
        columns = list(group[0][1])
        size = _batch_size(database, len(columns), batch_size)
        for start in range(0, len(group), size):
            chunk = group[start : start + size]
            rows = [values for _, values in chunk]
            if group is with_key:
                await database.execute(sa.insert(table).values(rows))
                continue
            statement = sa.insert(table).values(rows)
            if database.features.supports_returning:
                result = await database.fetch_all(statement.returning(table.c[pk.attname]))
                # Auto keys of one multi-row INSERT are assigned in VALUES order on every
                # backend, but RETURNING's row order is not promised: sort the keys.
                keys = sorted(row[0] for row in result)
            else:
                first = (await database.execute(statement)).lastrowid
                assert first is not None
                keys = list(range(first, first + len(chunk)))
            for (obj, _), key in zip(chunk, keys, strict=True):
                obj.__dict__[pk.attname] = key


async def bulk_update(
    model: type[Model],
    objs: Sequence[Model],
    names: Sequence[str],
    database: Database,
) -> int:
    """UPDATE the named fields of every object, batched through ``execute_many``."""
    meta = model._meta
    if not names:
        raise FieldError("bulk_update() needs at least one field name")
    fields = [meta.get_field(name) for name in names]
    for field in fields:
        if field.primary_key or not field.concrete:
            raise FieldError(f"bulk_update() cannot update {meta.name}.{field.name}")
    params = []
    for obj in objs:
        if obj.pk is None:
            raise FieldError(f"bulk_update() got an unsaved {meta.name} (pk is None)")
        values = values_for(obj, fields, adding=False)
        params.append({"orm_pk": obj.pk, **{f"orm_{k}": v for k, v in values.items()}})
    if not params:
        return 0
    table = meta.table
    statement = (
        sa.update(table)
        .where(table.c[meta.pk.attname] == sa.bindparam("orm_pk"))
        .values({f.attname: sa.bindparam(f"orm_{f.attname}") for f in fields})
    )
    await database.execute_many(statement, params)
    return len(params)
