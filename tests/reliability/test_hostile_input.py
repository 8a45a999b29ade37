"""Hostile input (issue 8, item 5): SQL-injection payloads through every API that takes a name
or a value, on all three backends. Nothing executes (a canary table keeps its one row, no table
gains rows it should not), names are refused with a clean error, and values match literally.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa

import orm
from asyncdb import Database, DatabaseError, DataError, ParameterError

hostile = orm.ModelRegistry()


class Writer(orm.Model):
    registry = hostile
    tablename = "rel_h_writers"
    id = orm.Integer(primary_key=True)
    name = orm.String(max_length=50)


class Text(orm.Model):
    registry = hostile
    tablename = "rel_h_texts"
    id = orm.Integer(primary_key=True)
    body = orm.String(max_length=300)
    writer = orm.ForeignKey(Writer, related_name="texts", null=True)


canary = sa.Table(
    "rel_h_canary",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("word", sa.String(20), nullable=False),
)

#: Payloads, distinct from each other even under case folding and trailing-space padding (so an
#: exact match has exactly one answer on every backend's collation).
PAYLOADS = [
    "'",
    '"',
    "`",
    "''",
    "' OR '1'='1",
    "' OR 1=1 --",
    '" OR ""="',
    "'; DROP TABLE rel_h_canary; --",
    "1; DROP TABLE rel_h_canary",
    "'); DELETE FROM rel_h_canary; --",
    "' UNION SELECT id, word FROM rel_h_canary --",
    "x' AND SLEEP(5) AND 'x",
    "'||pg_sleep(5)||'",
    "/* comment */ 1",
    "-- line comment",
    "# hash comment",
    "%",
    "_",
    "%_%",
    "a%b_c",
    "\\",
    "\\'",
    "\\\\'",
    "\\%",
    "/",
    "//",
    "/%",
    "$1",
    "?",
    ":name",
    "%s",
    "%(x)s",
    "{0}",
    "a\x00b",
    "\x00",
    "\u02bc OR \u02bc1\u02bc=\u02bc1",  # modifier-letter apostrophe
    "\uff07 OR \uff11=\uff11",  # fullwidth apostrophe and digits
    "\u202eevil\u202c",  # right-to-left override
    "e\u0301",  # e + combining acute accent
    "😀💥",
    "\ufeffbom",
    "line\r\nbreak",
    "tab\there",
    "NULL",
    "None",
    "x" * 299,
]
LONG = "y" * 5_000  # longer than any column: refused by validation, harmless in filters
NAMES = [
    p for p in [*PAYLOADS, LONG, "id; DROP TABLE rel_h_canary", "id--", 'id"', "body`", "id)"] if p
]
CLEAN_NAME_ERRORS = (orm.FieldError, ValueError)  # ParameterError is a ValueError


@pytest.fixture
async def setup(db: Database) -> AsyncIterator[Database]:
    hostile.database = db
    await hostile.drop_all()
    await db.execute(sa.schema.DropTable(canary, if_exists=True))
    await hostile.create_all()
    await db.execute(sa.schema.CreateTable(canary))
    await db.execute(canary.insert().values(id=1, word="alive"))
    try:
        yield db
    finally:
        await hostile.drop_all()
        await db.execute(sa.schema.DropTable(canary, if_exists=True))
        hostile.database = None


def _storable(db: Database, value: str) -> bool:
    """PostgreSQL text cannot hold NUL characters: the server refuses them (DataError)."""
    return not (db.features.backend == "postgresql" and "\x00" in value)


async def _assert_intact(db: Database, texts: int, writers: int = 1) -> None:
    rows = await db.fetch_all(sa.select(canary))
    assert [(r.id, r.word) for r in rows] == [(1, "alive")]
    assert await Text.objects.count() == texts
    assert await Writer.objects.count() == writers


async def test_values_match_literally(setup: Database) -> None:
    db = setup
    writer = await Writer.objects.create(name="w")
    stored: dict[int, str] = {}
    for payload in PAYLOADS:
        if _storable(db, payload):
            text = await Text.objects.create(body=payload, writer=writer)
            stored[text.id] = payload
        else:
            with pytest.raises(DataError):
                await Text.objects.create(body=payload, writer=writer)
    with pytest.raises(orm.ValidationError):
        await Text.objects.create(body=LONG)
    bodies = list(stored.values())
    assert sorted(t.body for t in await Text.objects.all()) == sorted(bodies)

    lookups: dict[str, Callable[[str, str], bool]] = {
        "exact": lambda v, p: v == p,
        "contains": lambda v, p: p in v,
        "startswith": lambda v, p: v.startswith(p),
        "endswith": lambda v, p: v.endswith(p),
        "icontains": lambda v, p: p.lower() in v.lower(),
        "iexact": lambda v, p: v.lower() == p.lower(),
    }
    mismatches: list[tuple[str, str, list[int], list[int]]] = []
    for payload in [*PAYLOADS, LONG]:
        for lookup, matches in lookups.items():
            if not _storable(db, payload):
                with pytest.raises(DataError):
                    await Text.objects.filter(**{f"body__{lookup}": payload}).all()
                continue
            if lookup.startswith("i") and not payload.isascii():
                continue  # SQLite folds ASCII only (documented): compared on ASCII payloads
            try:
                found = await Text.objects.filter(**{f"body__{lookup}": payload}).all()
            except orm.ValidationError:
                assert payload is LONG  # too long for the column: refused before any SQL
                continue
            expected = sorted(i for i, body in stored.items() if matches(body, payload))
            got = sorted(t.id for t in found)
            if got != expected:
                mismatches.append((lookup, payload, got[:5], expected[:5]))
        if not _storable(db, payload) or payload is LONG:
            continue
        # The same value through Q trees, exclude, IN, values and a raw parameter.
        ids = {i for i, body in stored.items() if body == payload}
        q = orm.Q(body=payload) | orm.Q(id=-1)
        assert {t.id for t in await Text.objects.filter(q)} == ids
        excluded = await Text.objects.exclude(body=payload).values_list("id", flat=True)
        assert set(excluded) == set(stored) - ids
        assert {t.id for t in await Text.objects.filter(body__in=[payload, "zz"])} == ids
        assert await db.fetch_val("SELECT :v AS v", {"v": payload}) == payload
        row = await db.fetch_one(
            "SELECT id FROM rel_h_texts WHERE body = :b AND id > :low", {"b": payload, "low": 0}
        )
        assert row is not None and row.id in ids
    assert mismatches == [], "\n".join(map(repr, mismatches))
    # update() with a payload value, read back literally.
    first = next(iter(stored))
    for payload in PAYLOADS:
        if _storable(db, payload):
            assert await Text.objects.filter(id=first).update(body=payload) == 1
            assert (await Text.objects.get(id=first)).body == payload
    await _assert_intact(db, len(stored))


@pytest.mark.backends("sqlite")
async def test_like_lookups_with_nul_on_sqlite(setup: Database) -> None:
    await Text.objects.bulk_create([Text(body="plain"), Text(body="a\x00b"), Text(body="z")])
    for lookup in ("contains", "endswith", "icontains", "startswith"):
        found = await Text.objects.filter(**{f"body__{lookup}": "\x00"}).all()
        expected = {"contains": ["a\x00b"], "icontains": ["a\x00b"]}.get(lookup, [])
        assert [t.body for t in found] == expected, lookup


async def _clean(call: Callable[[], Awaitable[Any]], what: str) -> None:
    try:
        result = await call()
    except CLEAN_NAME_ERRORS:
        return
    raise AssertionError(f"{what} accepted a hostile name and returned {result!r:.200}")


def _name_checks(db: Database, name: str) -> dict[str, Callable[[], Awaitable[Any]]]:
    """Every API that takes a name, called with ``name``."""
    qs = Text.objects
    return {
        "filter key": lambda: qs.filter(**{name: 1}).all(),
        "filter lookup": lambda: qs.filter(**{f"body__{name}": 1}).all(),
        "filter across relation": lambda: qs.filter(**{f"writer__{name}": 1}).all(),
        "exclude key": lambda: qs.exclude(**{name: 1}).all(),
        "Q key": lambda: qs.filter(orm.Q(**{name: 1}) | orm.Q(id=1)).all(),
        "F name": lambda: qs.filter(body=orm.F(name)).all(),
        "order_by": lambda: qs.order_by(name).all(),
        "order_by desc": lambda: qs.order_by(f"-{name}").all(),
        "values": lambda: qs.values(name).all(),
        "values_list": lambda: qs.values_list("id", name).all(),
        "values_list flat": lambda: qs.values_list(name, flat=True).all(),
        "only": lambda: qs.only(name).all(),
        "defer": lambda: qs.defer(name).all(),
        "select_related": lambda: qs.select_related(name).all(),
        "prefetch_related": lambda: Writer.objects.prefetch_related(name).all(),
        "update key": lambda: qs.update(**{name: 1}),
        "update F": lambda: qs.update(body=orm.F(name)),
        "count filter": lambda: qs.filter(**{name: 1}).count(),
        "aggregate over field": lambda: qs.aggregate(n=orm.Count(name)),
        "annotate over field": lambda: qs.annotate(n=orm.Max(name)).all(),
        "raw parameter name": lambda: db.fetch_all("SELECT :v AS v", {name: 1}),
        "raw extra parameter": lambda: db.fetch_all("SELECT :v AS v", {"v": 1, name: 2}),
    }


async def test_names_are_refused(setup: Database) -> None:
    db = setup
    await Writer.objects.create(name="w")
    await Text.objects.create(body="b")
    for name in NAMES:
        for what, call in _name_checks(db, name).items():
            await _clean(call, f"{what} ({name[:30]!r})")
    await _assert_intact(db, 1)


def _alias_calls(name: str) -> list[Callable[[], Awaitable[Any]]]:
    return [
        lambda: Text.objects.annotate(**{name: orm.Count("id")}).values(name).all(),
        lambda: Text.objects.aggregate(**{name: orm.Count("id")}),
    ]


async def test_annotation_aliases_execute_nothing(setup: Database) -> None:
    """An alias is a name the user chose: whatever it holds, no SQL is injected through it.

    (Whether odd aliases are refused up front is ``test_annotation_aliases_are_validated``.)
    """
    db = setup
    await Writer.objects.create(name="w")
    await Text.objects.create(body="b")
    for name in NAMES:
        for call in _alias_calls(name):
            try:
                result = await call()
            except (*CLEAN_NAME_ERRORS, DatabaseError):
                continue
            # Accepted: then the alias came back literally, as a key of the result.
            rows = result if isinstance(result, list) else [result]
            assert all(set(r) == {name} and r[name] == 1 for r in rows), (name, result)
    await _assert_intact(db, 1)
    assert await Text.objects.count() == 1  # the pool is still healthy


async def test_annotation_aliases_are_validated(setup: Database) -> None:
    await Text.objects.create(body="b")
    for name in ("a\x00b", "😀💥", "'; DROP TABLE rel_h_canary; --"):
        with pytest.raises(orm.FieldError):
            await Text.objects.annotate(**{name: orm.Count("id")}).all()
        with pytest.raises(orm.FieldError):
            await Text.objects.aggregate(**{name: orm.Count("id")})


async def test_url_options(backend: str, database_url: str, setup: Database) -> None:
    db = setup
    base = database_url.split("?", 1)[0]
    for payload in NAMES:
        # An unknown option name, or a bad value for a known one: ValueError before any I/O.
        with pytest.raises(ValueError):
            Database(f"{base}?{quote(payload, safe='')}=1")
        option = {"sqlite": "busy_timeout", "postgresql": "sslmode", "mysql": "ssl"}[backend]
        with pytest.raises(ValueError):
            Database(f"{base}?{option}={quote(payload, safe='')}")
        with pytest.raises(ValueError):
            Database(f"{base}?max_size={quote(payload, safe='')}")
    if backend == "postgresql":
        # A free-text option goes to the server as a startup setting, never as SQL.
        # (PostgreSQL keeps printable ASCII in application_name: no emoji here.)
        for payload in ("'; DROP TABLE rel_h_canary; --", "x' OR '1'='1", "a%b_c\\"):
            url = f"{base}?application_name={quote(payload, safe='')}"
            async with Database(url, max_size=1) as other:
                assert await other.fetch_val("SHOW application_name") == payload
    if backend != "sqlite":
        # A hostile database or user name is a failed connection, nothing more.
        for payload in ("x; DROP TABLE rel_h_canary", "x' OR '1'='1"):
            scheme_host, _, _ = base.rpartition("/")
            bad = Database(f"{scheme_host}/{quote(payload, safe='')}", acquire_timeout=5)
            with pytest.raises(DatabaseError):
                await bad.connect()
            with contextlib.suppress(DatabaseError):
                await bad.disconnect()
    await _assert_intact(db, 0, writers=0)


def test_parameter_error_is_a_value_error() -> None:
    assert issubclass(ParameterError, ValueError)
