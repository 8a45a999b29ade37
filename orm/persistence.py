"""Writing instances: validation on the way in, INSERT/UPDATE/DELETE, keys read back."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain
from operator import is_not, itemgetter
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeDecorator, TypeEngine

from asyncdb.cache import BoundedCache
from orm import prebuilt
from orm.exceptions import FieldError, NoMatch
from orm.fields import DateTime, Field
from orm.incomplete import complete
from orm.relations import ForeignKey

if TYPE_CHECKING:
    from asyncdb import Database
    from orm.models import Model
    from orm.options import Options

__all__ = ["bulk_insert", "bulk_update", "delete", "insert", "reload", "save", "values_for"]


def values_for(obj: Model, fields: Iterable[Field[Any]], *, adding: bool) -> dict[str, Any]:
    """Run ``pre_save`` hooks, validate and return {attname: value} for ``fields``.

    A field missing from the instance (deferred) is skipped. Validated values are stored back,
    so the instance holds what the database will hold.
    """
    state = obj.__dict__
    values: dict[str, Any] = {}
    for field in fields:
        if field.has_pre_save:
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
    pk = meta.pk.attname
    names = tuple(values)
    if pk in values:
        await db.execute(prebuilt.insert(meta, names, None), prebuilt.params(values))
        return
    if db.features.supports_returning:
        statement = prebuilt.insert(meta, names, pk)
        key = await db.fetch_val(statement, prebuilt.params(values))
    else:
        statement = prebuilt.insert(meta, names, None)
        key = (await db.execute(statement, prebuilt.params(values))).lastrowid
    obj.__dict__[pk] = key


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
    pk = meta.pk.attname
    if values:
        statement = prebuilt.update_by_key(meta, tuple(values), pk)
        bound = prebuilt.params(values)
        bound.update(prebuilt.key_param(obj.pk))
        matched = (await db.execute(statement, bound)).rowcount
    else:
        probe = prebuilt.select_by_key(meta, (), pk)
        found = await db.fetch_one(probe, prebuilt.key_param(obj.pk))
        matched = 1 if found is not None else 0
    if matched == 0 and update_fields is None:
        await insert(obj, db)


async def delete(obj: Model) -> None:
    meta = obj._meta
    if obj.pk is None:
        raise FieldError(f"cannot delete unsaved {meta.name} (pk is None)")
    statement = prebuilt.delete_by_key(meta, meta.pk.attname)
    await _database(obj).execute(statement, prebuilt.key_param(obj.pk))
    if meta.pk.auto_increment:
        obj.__dict__[meta.pk.attname] = None


async def reload(obj: Model) -> None:
    meta = obj._meta
    if obj.pk is None:
        raise FieldError(f"cannot load unsaved {meta.name} (pk is None)")
    statement = prebuilt.select_by_key(meta, meta.attnames, meta.pk.attname)
    row = await _database(obj).fetch_one(statement, prebuilt.key_param(obj.pk))
    if row is None:
        raise NoMatch(f"{meta.name} with {meta.pk.name}={obj.pk!r} no longer exists")
    obj.__dict__.update(zip(meta.attnames, row, strict=True))
    complete(obj)


def _batch_size(db: Database, columns: int, requested: int | None) -> int:
    limit = max(1, db.features.max_bind_params // max(1, columns))
    return min(limit, requested) if requested else limit


# Multi-row INSERT statements, kept in the model's ``_meta.statements`` by (dialect, columns,
# rows, returning). SQLAlchemy cannot cache a multi-VALUES insert (it has no cache key), so
# compiling one per call would cost far more than running it; this typed text() statement is
# built once per shape and then only bound. Identifiers are the model's, quoted by the
# dialect; values are typed parameters, so every column type's conversions apply as for any
# Core statement.
def _insert_statement(
    db: Database, meta: Options, columns: tuple[str, ...], rows: int, returning: bool
) -> sa.TextClause:
    dialect = db.dialect
    key = ("insert_rows", dialect.name, columns, rows, returning)
    statement: sa.TextClause | None = meta.statements.get(key)
    if statement is not None:
        return statement
    table = meta.table
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(table.c[c].name) for c in columns)
    width = range(len(columns))
    groups = ", ".join("(" + ", ".join(f":r{i}_{j}" for j in width) + ")" for i in range(rows))
    sql = f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({names}) VALUES {groups}"
    pk = next(iter(table.primary_key.columns))
    if returning:
        sql += f" RETURNING {quote(pk.name)}"
    types = [table.c[c].type for c in columns]
    binds = [sa.bindparam(f"r{i}_{j}", type_=types[j]) for i in range(rows) for j in width]
    statement = sa.text(sql).bindparams(*binds)
    if returning:
        statement = statement.columns(pk)  # type: ignore[assignment]
    meta.statements.put(key, statement)
    return statement


# -- bulk INSERT strategy for PostgreSQL: one array parameter per column ------------------------
#
# A backend strategy, chosen by ``database.features.backend``: on PostgreSQL a chunk is sent as
# ``INSERT INTO t (a, b) SELECT c0, c1 FROM unnest(CAST(:c0 AS VARCHAR(50)[]), CAST(:c1 AS
# INTEGER[])) WITH ORDINALITY AS orm_rows (c0, c1, orm_n) ORDER BY orm_n RETURNING id``: the server
# parses and plans a statement of N parameters instead of rows times N (a 10,000-row multi-VALUES
# INSERT takes about twice the time of ``executemany``), and the statement text is the same for
# every chunk size, so it is prepared once. Each parameter is bound as
# ``postgresql.ARRAY(column.type)``, so the column type's bind processing runs on every element
# exactly as for a single-row INSERT. ``WITH ORDINALITY ... ORDER BY`` makes the rows (and so the
# serial keys the INSERT draws) follow the objects' order. The INSERT sits in a CTE whose keys
# come back as one sorted array (``array_agg(id ORDER BY id)``): one value for the driver to
# decode instead of a result row per object (about 5 ms of CPU for 10,000 rows). Columns whose
# type cannot be carried in an array safely (JSON, arrays, native enums, any type not listed
# below) use the multi-row VALUES path, as MySQL/MariaDB and SQLite always do.
_UNNEST_TYPES = (
    sa.String,
    sa.Integer,
    sa.Numeric,
    sa.Boolean,
    sa.Date,
    sa.DateTime,
    sa.Time,
    sa.LargeBinary,
    sa.Uuid,
)
# Rows per statement when no batch_size is given: one statement for 10,000 rows, while the
# arrays of one statement stay within PostgreSQL's 1 GB message limit up to ~100 KB a row
# (about what the VALUES path's parameter limit allowed).
_UNNEST_MAX_ROWS = 10_000


def _unnest_safe(column_type: TypeEngine[Any], dialect: Any) -> bool:
    impl = column_type.dialect_impl(dialect)
    while isinstance(impl, TypeDecorator):
        impl = impl.load_dialect_impl(dialect)
    if isinstance(impl, sa.JSON | sa.ARRAY) or not isinstance(impl, _UNNEST_TYPES):
        return False
    return not (isinstance(impl, sa.Enum) and impl.native_enum)


def _unnest_statement(
    db: Database, meta: Options, columns: tuple[str, ...], returning: bool
) -> sa.TextClause | None:
    """The unnest INSERT for these columns, or None when the VALUES path must be used (kept
    in the model's ``_meta.statements``)."""
    if db.features.backend != "postgresql" or not columns:
        return None
    dialect = db.dialect
    key = ("insert_unnest", dialect.name, columns, returning)
    if key in meta.statements:
        return meta.statements.get(key)
    table = meta.table
    statement: sa.TextClause | None = None
    types = [table.c[c].type for c in columns]
    if all(_unnest_safe(t, dialect) for t in types):
        quote = dialect.identifier_preparer.quote
        names = ", ".join(quote(table.c[c].name) for c in columns)
        width = range(len(columns))
        arrays = ", ".join(f"CAST(:c{j} AS {types[j].compile(dialect)}[])" for j in width)
        outputs = ", ".join(f"c{j}" for j in width)
        sql = (
            f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({names}) "
            f"SELECT {outputs} FROM unnest({arrays}) WITH ORDINALITY "
            f"AS orm_rows ({outputs}, orm_n) ORDER BY orm_n"
        )
        pk = next(iter(table.primary_key.columns))
        if returning:
            # The keys come back as one sorted array: one value to decode, not a row per key.
            key_name = quote(pk.name)
            sql = (
                f"WITH orm_inserted AS ({sql} RETURNING {key_name}) SELECT "
                f"array_agg({key_name} ORDER BY {key_name}) AS orm_keys FROM orm_inserted"
            )
        binds = [sa.bindparam(f"c{j}", type_=postgresql.ARRAY(types[j])) for j in width]
        statement = sa.text(sql).bindparams(*binds)
        if returning:
            keys = sa.column("orm_keys", postgresql.ARRAY(pk.type))
            statement = statement.columns(keys)  # type: ignore[assignment]
    meta.statements.put(key, statement)
    return statement


# -- bulk_create: values by column ---------------------------------------------------------------
#
# bulk_create validates a column at a time (``Field.validate_column``: a C-level check of the
# whole column in the common cases instead of a call per value) and hands the columns to the
# statement as they are: no dict per row. This is the per-object ``values_for`` loop done in
# another order, so it is only taken when the order cannot show: every object of the model's
# class, no field missing (deferred) on any object, the key set on all objects or on none, and
# no ``pre_save`` hook other than the built-in ones that read and write only their own field
# (``DateTime(auto_now=...)``, ``ForeignKey``). Nothing is stored back until every column has
# passed; if any check fails or raises, the per-object loop runs from the start and raises the
# error it always raised (the built-in hooks give the same result when run again).
_OWN_FIELD_PRE_SAVES = (Field.pre_save, DateTime.pre_save, ForeignKey.pre_save)


class _Group:
    """Objects that insert the same columns, with the values by column (validated)."""

    __slots__ = ("columns", "states", "values")

    def __init__(self, columns: tuple[str, ...], states: list[dict[str, Any]]) -> None:
        self.columns = columns
        self.states = states
        self.values: list[list[Any]] = []


def _by_column(meta: Options, model: type[Model], objs: list[Model]) -> _Group | None:
    """``objs`` validated a column at a time, or None when the per-object loop must run."""
    if set(map(type, objs)) != {model}:
        return None
    states: list[dict[str, Any]] = [obj.__dict__ for obj in objs]
    pick = [field for field in meta.concrete_fields if field.has_pre_save]
    if any(type(field).pre_save not in _OWN_FIELD_PRE_SAVES for field in pick):
        return None
    columns: list[str] = []
    given: list[list[Any]] = []
    values: list[list[Any]] = []
    try:
        for field in meta.concrete_fields:
            attname = field.attname
            if field.has_pre_save:
                pre_save = field.pre_save
                for obj in objs:
                    pre_save(obj, adding=True)
            column = list(map(itemgetter(attname), states))  # KeyError: a deferred field
            if field.primary_key:
                missing = column.count(None)
                if missing == len(column) and field.auto_increment:
                    continue  # auto keys: the database assigns them
                if missing:
                    return None  # some keys set, some not: rows differ in columns
            columns.append(attname)
            given.append(column)
            values.append(field.validate_column(column))
    except Exception:
        return None
    for attname, column, validated in zip(columns, given, values, strict=True):
        if validated is not column and any(map(is_not, validated, column)):
            for state, value in zip(states, validated, strict=True):
                state[attname] = value  # the converted value, as save() stores it
    group = _Group(tuple(columns), states)
    group.values = values
    return group


def _by_object(meta: Options, objs: Sequence[Model]) -> list[_Group]:
    """The per-object loop: ``values_for`` each object in turn, grouped by the columns set."""
    groups: dict[tuple[str, ...], tuple[_Group, list[list[Any]]]] = {}
    for obj in objs:
        if type(obj)._meta is not meta:
            raise TypeError(f"bulk_create() on {meta.name} got a {type(obj).__name__}")
        values = values_for(obj, meta.concrete_fields, adding=True)
        columns = tuple(values)
        entry = groups.get(columns)
        if entry is None:
            entry = groups[columns] = (_Group(columns, []), [])
        entry[0].states.append(obj.__dict__)
        entry[1].append(list(values.values()))
    result = []
    for group, rows in groups.values():
        group.values = [list(column) for column in zip(*rows, strict=True)]
        result.append(group)
    return result


_PARAM_NAMES: BoundedCache[tuple[int, int], tuple[str, ...]] = BoundedCache(
    "orm.values_param_names", 64
)


def _values_param_names(rows: int, width: int) -> tuple[str, ...]:
    """The bind names of the multi-row VALUES statement, column by column."""
    names = _PARAM_NAMES.get((rows, width))
    if names is None:
        names = tuple(f"r{i}_{j}" for j in range(width) for i in range(rows))
        _PARAM_NAMES.put((rows, width), names)
    return names


async def bulk_insert(
    model: type[Model], objs: Sequence[Model], database: Database, batch_size: int | None
) -> None:
    """Insert ``objs`` in chunks (see the strategies above); auto keys are set on the objects.

    Every value is validated (and stored back converted) as ``save()`` would, with the same
    error for the first bad value in object order; ``batch_size`` caps the rows per statement.
    """
    meta = model._meta
    objs = list(objs)
    if not objs:
        return
    group = _by_column(meta, model, objs)
    groups = [group] if group is not None else _by_object(meta, objs)
    for group in groups:
        await _insert_group(meta, group, database, batch_size)


async def _insert_group(
    meta: Options, group: _Group, database: Database, batch_size: int | None
) -> None:
    auto_key = meta.pk.attname not in group.columns
    features = database.features
    if auto_key and not features.supports_returning and features.backend == "mysql":
        # MySQL's keys come from lastrowid and the session's settings: read them once, on the
        # connection that inserts every chunk.
        async with database.connection():
            settings = await _autoinc_settings(database)
            await _insert_chunks(meta, group, database, batch_size, settings)
    else:
        await _insert_chunks(meta, group, database, batch_size, None)


async def _insert_chunks(
    meta: Options,
    group: _Group,
    database: Database,
    batch_size: int | None,
    autoinc: tuple[int, int] | None,
) -> None:
    """INSERT the group chunk by chunk and set the auto keys; ``autoinc`` is MySQL's
    (``@@auto_increment_increment``, ``@@innodb_autoinc_lock_mode``) when keys come from
    ``lastrowid`` there."""
    pk_attname = meta.pk.attname
    columns = group.columns
    returning = database.features.supports_returning
    auto_key = pk_attname not in columns
    unnest = _unnest_statement(database, meta, columns, returning and auto_key)
    if unnest is not None:
        size = batch_size or _UNNEST_MAX_ROWS
    else:
        size = _batch_size(database, len(columns), batch_size)
    total = len(group.states)
    for start in range(0, total, size):
        stop = min(start + size, total)
        rows = stop - start
        chunk = [column[start:stop] for column in group.values]
        if autoinc is not None and autoinc[1] not in (0, 1):
            # innodb_autoinc_lock_mode 2 (MySQL 8's default, Galera): a multi-row INSERT beside
            # another may get keys that are not one block. One INSERT a row, each with its
            # own lastrowid, in one transaction.
            keys = await _insert_one_by_one(database, meta, columns, chunk)
        else:
            params: dict[str, Any]
            if unnest is not None:
                statement = unnest
                params = {f"c{j}": column for j, column in enumerate(chunk)}
            else:
                statement = _insert_statement(database, meta, columns, rows, returning and auto_key)
                names = _values_param_names(rows, len(columns))
                params = dict(zip(names, chain.from_iterable(chunk), strict=True))
            if not auto_key:
                await database.execute(statement, params)
                continue
            if unnest is not None:
                keys = await database.fetch_val(statement, params) or []
            elif returning:
                records = await database.fetch_records(statement, params)
                # Auto keys of one INSERT are assigned in row order (VALUES order), but
                # RETURNING's row order is not promised: sort the keys.
                keys = sorted(map(itemgetter(0), records))
            else:
                last = (await database.execute(statement, params)).lastrowid
                assert last is not None
                if autoinc is None:  # SQLite: one writer, the last row's key
                    keys = list(range(last - rows + 1, last + 1))
                else:  # MySQL, one block of keys a statement: the first row's key
                    step = autoinc[0]
                    keys = list(range(last, last + rows * step, step))
        for state, key in zip(group.states[start:stop], keys, strict=True):
            state[pk_attname] = key


async def _insert_one_by_one(
    database: Database, meta: Options, columns: tuple[str, ...], chunk: list[list[Any]]
) -> list[int]:
    """INSERT each row of ``chunk`` on its own, in one transaction; their ``lastrowid``s."""
    one = _insert_statement(database, meta, columns, 1, False)
    names = _values_param_names(1, len(columns))
    keys = []
    async with database.transaction():
        for values in zip(*chunk, strict=True):
            row = dict(zip(names, values, strict=True))
            key = (await database.execute(one, row)).lastrowid
            assert key is not None
            keys.append(key)
    return keys


async def _autoinc_settings(database: Database) -> tuple[int, int]:
    """(``@@auto_increment_increment``, ``@@innodb_autoinc_lock_mode``) of this session.

    A multi-row INSERT's keys follow its ``lastrowid`` (the first row's) by the increment only
    when InnoDB hands out one block of keys a statement (lock mode 0 or 1)."""
    row = await database.fetch_one("SELECT @@auto_increment_increment, @@innodb_autoinc_lock_mode")
    assert row is not None
    return int(row[0]), int(row[1])


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
