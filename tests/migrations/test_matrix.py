"""What autogenerate detects: every orm field type x every option change, on every backend.

One table holds a column per (field type, change). ``check`` must report exactly the expected
difference for each column, in both directions; then the whole change is applied with a row in
the table, the values read back, ``check`` is clean, and it is reverted and applied again. The
table "What autogenerate detects" in docs/migrations.md states these results.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

import migrations
import orm
from asyncdb import Database
from migrations.config import sqlalchemy_url
from migrations.environment import COMPARE_OPTIONS


class Color(enum.Enum):
    red = 1
    green = 2


class Size(enum.Enum):  # a longer member name: a wider column
    red = 1
    enormous = 2


Factory = Callable[..., orm.Field[Any]]

TYPES: dict[str, Factory] = {
    "integer": orm.Integer,
    "biginteger": orm.BigInteger,
    "smallinteger": orm.SmallInteger,
    "float": orm.Float,
    "decimal": lambda **o: orm.Decimal(max_digits=10, decimal_places=2, **o),
    "boolean": orm.Boolean,
    "string": lambda **o: orm.String(max_length=20, **o),
    "text": orm.Text,
    "date": orm.Date,
    "datetime": orm.DateTime,
    "time": orm.Time,
    "json": orm.JSON,
    "uuid": orm.UUID,
    "enum": lambda **o: orm.Enum(Color, **o),
    "binary": orm.Binary,
}

#: Two values of each type: the row's value, and a second default.
VALUES: dict[str, tuple[Any, Any]] = {
    "integer": (7, 8),
    "biginteger": (7, 8),
    "smallinteger": (7, 8),
    "float": (1.5, 2.5),
    "decimal": (decimal.Decimal("1.50"), decimal.Decimal("2.50")),
    "boolean": (True, False),
    "string": ("abc", "def"),
    "text": ("abc", "def"),
    "date": (dt.date(2024, 1, 2), dt.date(2024, 1, 3)),
    "datetime": (dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC), None),
    "time": (dt.time(10, 11, 12), dt.time(10, 11, 13)),
    "json": ({"a": 1}, {"b": 2}),
    "uuid": (uuid.UUID(int=5), uuid.UUID(int=6)),
    "enum": (Color.red, Color.green),
    "binary": (b"abc", b"def"),
}

#: Unindexable on MySQL without a prefix length (LONGTEXT, LONGBLOB, JSON): no unique/index.
UNINDEXED = {"text", "json", "binary"}


@dataclass(frozen=True)
class Case:
    """One column: its definition before and after, and the difference ``check`` must see."""

    column: str
    before: Callable[[], orm.Field[Any]]
    after: Callable[[], orm.Field[Any]]
    kind: str | None  # the diff kind forward (None: nothing to see)
    value: Any
    # The value read back after the upgrade (``SAME``: unchanged; ``None``: not compared, it
    # is spelled differently per backend, e.g. a UUID as text).
    after_value: Any = None
    same_storage_on: tuple[str, ...] = ()  # backends where both definitions are one type
    unseen_back_on: tuple[str, ...] = ()  # backends that miss the change back (see the docs)


SAME = object()

#: (from type, to field, value after the upgrade, backends storing both alike)
TYPE_CHANGES: dict[str, tuple[Factory, Any, tuple[str, ...]]] = {
    "integer": (orm.BigInteger, SAME, ("sqlite",)),
    "biginteger": (orm.Integer, SAME, ("sqlite",)),
    "smallinteger": (orm.Integer, SAME, ()),
    "float": (lambda: orm.Decimal(max_digits=10, decimal_places=2), decimal.Decimal("1.50"), ()),
    "decimal": (orm.Float, 1.5, ()),
    "boolean": (orm.Integer, 1, ()),
    "string": (orm.Text, SAME, ()),
    "text": (lambda: orm.String(max_length=20), SAME, ()),
    "date": (lambda: orm.String(max_length=20), "2024-01-02", ()),
    "datetime": (lambda: orm.String(max_length=40), None, ()),
    "time": (lambda: orm.String(max_length=20), None, ()),
    "json": (orm.Text, '{"a": 1}', ()),
    "uuid": (lambda: orm.String(max_length=36), None, ()),
    "enum": (lambda: orm.Enum(Size), Size.red, ()),
    "binary": (orm.Text, None, ()),
}


def _cases() -> list[Case]:
    cases = []
    for name, make in TYPES.items():
        value, other = VALUES[name]
        cases.append(
            Case(f"{name}_null", make, lambda m=make: m(null=True), "modify_nullable", value, SAME)
        )
        if name not in UNINDEXED:
            cases.append(
                Case(
                    f"{name}_unique",
                    lambda m=make: m(null=True),
                    lambda m=make: m(null=True, unique=True),
                    "add_constraint",
                    value,
                    SAME,
                )
            )
            cases.append(
                Case(
                    f"{name}_index",
                    lambda m=make: m(null=True),
                    lambda m=make: m(null=True, index=True),
                    "add_index",
                    value,
                    SAME,
                )
            )
        if other is not None:
            cases.append(
                Case(
                    f"{name}_default",
                    lambda m=make, v=value: m(default=v),
                    lambda m=make, v=other: m(default=v),
                    None,  # the default lives in Python: the schema does not change
                    value,
                    SAME,
                )
            )
        target, after_value, same_on = TYPE_CHANGES[name]
        # MariaDB's JSON is LONGTEXT with a json_valid check, and Alembic counts JSON and
        # LONGTEXT as one type: a text column becoming JSON goes unseen there.
        back = ("mysql",) if name == "json" else ()
        cases.append(
            Case(f"{name}_type", make, target, "modify_type", value, after_value, same_on, back)
        )
    string = TYPES["string"]
    cases += [
        Case("string_longer", string, lambda: orm.String(max_length=40), "modify_type", "ab", SAME),
        Case("string_shorter", string, lambda: orm.String(max_length=9), "modify_type", "ab", SAME),
        Case(
            "decimal_digits",
            TYPES["decimal"],
            lambda: orm.Decimal(max_digits=12, decimal_places=2),
            "modify_type",
            decimal.Decimal("1.50"),
            SAME,
        ),
        Case(
            "decimal_places",
            TYPES["decimal"],
            lambda: orm.Decimal(max_digits=10, decimal_places=3),
            "modify_type",
            decimal.Decimal("1.50"),
            SAME,
        ),
    ]
    return cases


CASES = _cases()
REVERSE = {"add_constraint": "remove_constraint", "add_index": "remove_index"}
#: MySQL keeps a UNIQUE constraint as a unique index: its removal is seen as the index's.
REVERSE_ON = {"mysql": {**REVERSE, "add_constraint": "remove_index"}}


def _models(after: bool) -> orm.ModelRegistry:
    models = orm.ModelRegistry()
    namespace: dict[str, Any] = {"registry": models, "tablename": "matrix"}
    for case in CASES:
        namespace[case.column] = case.after() if after else case.before()
    type("Matrix", (orm.Model,), namespace)
    return models


async def _differences(url: str, metadata: sa.MetaData) -> dict[str, set[str]]:
    """Alembic's comparison, as ``check`` makes it, by column: {column: {diff kinds}}."""
    options = COMPARE_OPTIONS
    engine = create_async_engine(sqlalchemy_url(url))
    try:
        async with engine.connect() as connection:
            diffs = await connection.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c, opts=options), metadata)
            )
    finally:
        await engine.dispose()
    found: dict[str, set[str]] = {}
    for diff in diffs:
        for item in diff if isinstance(diff, list) else [diff]:
            kind = item[0]
            if kind.startswith("modify_"):
                columns = [item[3]]
            else:
                columns = [column.name for column in item[1].columns]
            for column in columns:
                found.setdefault(column, set()).add(kind)
    return found


def _expected(backend: str, *, forward: bool) -> dict[str, set[str]]:
    expected = {}
    for case in CASES:
        if case.kind is None or backend in case.same_storage_on:
            continue
        if not forward and backend in case.unseen_back_on:
            continue
        reverse = REVERSE_ON.get(backend, REVERSE)
        kind = case.kind if forward else reverse.get(case.kind, case.kind)
        expected[case.column] = {kind}
    return expected


async def _row(models: orm.ModelRegistry, db: Database) -> dict[str, Any]:
    models.database = db
    model = models.get_model("Matrix")
    assert model is not None
    return (await model.objects.get()).to_dict()


def _check_values(row: dict[str, Any], *, after: bool) -> None:
    for case in CASES:
        expected = case.value
        if after and case.after_value is not SAME:
            if case.after_value is None:
                continue
            expected = case.after_value
        assert row[case.column] == expected, case.column


async def test_every_change_is_seen_applied_and_reverted(
    backend: str, private_database_url: str, tmp_path: Path
) -> None:
    url = private_database_url
    before, after = _models(False), _models(True)
    directory = migrations.init(tmp_path / "db_migrations")
    await migrations.makemigrations(url, before, directory, message="before")
    await migrations.migrate(url, before, directory)

    assert await _differences(url, after.metadata) == _expected(backend, forward=True)

    async with Database(url) as db:
        before.database = db
        model = before.get_model("Matrix")
        assert model is not None
        await model.objects.create(**{case.column: case.value for case in CASES})
        path = await migrations.makemigrations(db, after, directory, message="after")
        assert path is not None
        await migrations.migrate(db, after, directory)
        _check_values(await _row(after, db), after=True)
        await migrations.check(db, after, directory)

        await migrations.downgrade(db, before, directory, revision="-1")
        assert await _differences(url, before.metadata) == {}
        assert await _differences(url, after.metadata) == _expected(backend, forward=True)
        _check_values(await _row(before, db), after=False)
        await migrations.migrate(db, after, directory)
        await migrations.check(db, after, directory)

        # And the other way: the database as `after` has it, the models as `before`.
        assert await _differences(url, before.metadata) == _expected(backend, forward=False)


def _docs_rows() -> list[str]:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "migrations.md").read_text()
    section = docs.split("### What autogenerate detects", 1)[1].split("\n#", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| `")]


def test_the_docs_table_lists_every_type() -> None:
    assert [row.split("`")[1] for row in _docs_rows()] == [
        "Integer", "BigInteger", "SmallInteger", "Float", "Decimal", "Boolean", "String", "Text",
        "Date", "DateTime", "Time", "JSON", "UUID", "Enum", "Binary",
    ]  # fmt: skip


@pytest.mark.parametrize("name", sorted(TYPE_CHANGES))
def test_the_docs_table_names_each_type_change(name: str) -> None:
    target = TYPE_CHANGES[name][0]()
    row = next(line for line in _docs_rows() if line.lower().startswith(f"| `{name}`"))
    assert f"→ `{type(target).__name__}` ✓" in row
