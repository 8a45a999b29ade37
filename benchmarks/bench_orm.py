"""The ORM against hand-written asyncpg, side by side in one run, on PostgreSQL (issues 3 and 4).

Run it alone with ``python -m benchmarks.bench_orm`` (``--quick`` for a short run). Workloads
(targets from the issues in parentheses):

1. get by primary key: ``Item.objects.get(id=k)`` vs ``conn.fetchrow`` on a held asyncpg
   connection (≤ 1.5x time);
2. 1,000 rows: hydrated as models (≥ 0.4x the raw rows/s) and as ``values_list`` (≤ 1.3x time)
   vs ``conn.fetch``;
3. ``bulk_create`` of 10,000 rows with their keys returned vs one raw
   ``INSERT ... SELECT unnest(...) RETURNING id``;
4. ``update()`` of 1,000 rows with ``F()`` vs the raw UPDATE;
5. relations: 500 books ``select_related("author")`` vs a raw JOIN; 100 authors
   ``prefetch_related("books")`` (10 books each) vs two raw queries with ``= ANY($1)``; a
   many-to-many prefetch vs two raw queries (≤ 2x time each).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import sys

import asyncpg

import orm
from asyncdb import Database

from .bench_asyncdb import postgres_dsn
from .common import Settings, postgres_url
from .harness import Contender, Report, Target, measure

__all__ = ["main", "run"]

ROWS = 10_000
EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

models = orm.ModelRegistry()


class Item(orm.Model):
    registry = models
    tablename = "bench_orm_items"
    name = orm.String(max_length=50)
    amount = orm.Integer()
    score = orm.Float()
    created = orm.DateTime()


class Writer(orm.Model):
    registry = models
    tablename = "bench_orm_writers"
    name = orm.String(max_length=50)


class Label(orm.Model):
    registry = models
    tablename = "bench_orm_labels"
    name = orm.String(max_length=50)


class Novel(orm.Model):
    registry = models
    tablename = "bench_orm_novels"
    title = orm.String(max_length=100)
    writer = orm.ForeignKey(Writer, related_name="novels")
    labels = orm.ManyToMany(Label, related_name="novels")


ITEM_SQL = "SELECT id, name, amount, score, created FROM bench_orm_items"
PG_GET = f"{ITEM_SQL} WHERE id = $1"
PG_MANY = f"{ITEM_SQL} WHERE id > $1 ORDER BY id LIMIT 1000"
PG_BULK = (
    "INSERT INTO bench_orm_items (name, amount, score, created) "
    "SELECT * FROM unnest($1::varchar[], $2::int[], $3::float8[], $4::timestamptz[]) RETURNING id"
)
PG_UPDATE = "UPDATE bench_orm_items SET amount = amount + 1 WHERE id > $1 AND id <= $2"
PG_JOIN = (
    "SELECT n.id, n.title, n.writer_id, w.id, w.name FROM bench_orm_novels n "
    "JOIN bench_orm_writers w ON w.id = n.writer_id ORDER BY n.id LIMIT 500"
)
PG_WRITERS = "SELECT id, name FROM bench_orm_writers ORDER BY id LIMIT 100"
PG_NOVELS_OF = "SELECT id, title, writer_id FROM bench_orm_novels WHERE writer_id = ANY($1)"
PG_NOVELS = "SELECT id, title, writer_id FROM bench_orm_novels ORDER BY id LIMIT 100"
PG_LABELS_OF = (
    "SELECT l.id, l.name, x.novel_id FROM bench_orm_labels l "
    "JOIN bench_orm_novels_labels x ON x.label_id = l.id WHERE x.novel_id = ANY($1)"
)
_LOW = (0, 2_000, 4_000, 6_000, 8_000)


def key(i: int) -> int:
    return (i * 7919) % ROWS + 1


async def setup(db: Database) -> None:
    await models.drop_all()
    await models.create_all()
    await Item.objects.bulk_create(
        [
            Item(name=f"item-{i}", amount=i % 1000, score=i / 7, created=EPOCH)
            for i in range(1, ROWS + 1)
        ]
    )
    writers = await Writer.objects.bulk_create([Writer(name=f"w{i}") for i in range(100)])
    labels = await Label.objects.bulk_create([Label(name=f"l{i}") for i in range(20)])
    novels = await Novel.objects.bulk_create(
        [Novel(title=f"n{i}", writer=writers[i % 100]) for i in range(1000)]
    )
    link = Novel._meta.fields["labels"].through_model  # type: ignore[attr-defined]
    await link.objects.bulk_create(
        [link(novel=n, label=labels[(n.pk + j) % 20]) for n in novels[:100] for j in range(3)]
    )
    await db.execute("ANALYZE")
    # Move everything alive now (SQLAlchemy, drivers, the setup) to the permanent generation, as
    # long-running services do after start-up: otherwise each full collection during a timed
    # batch scans a few hundred thousand start-up objects, a cost of the process, not the query.
    gc.collect()
    gc.freeze()


async def single_rows(report: Report, s: Settings, conn: asyncpg.Connection) -> None:
    async def raw_get(n: int) -> None:
        for i in range(n):
            await conn.fetchrow(PG_GET, key(i))

    async def orm_get(n: int) -> None:
        for i in range(n):
            await Item.objects.get(id=key(i))

    async def orm_get_held(n: int) -> None:
        async with Item.database().connection():
            for i in range(n):
                await Item.objects.get(id=key(i))

    raw, held = "asyncpg conn.fetchrow (held)", "orm get, db.connection() held"
    results = await measure(
        [
            Contender(raw, raw_get),
            Contender(held, orm_get_held),
            Contender("orm get, pooled", orm_get),
        ],
        ops=s.gets,
        rounds=s.rounds,
    )
    report.table(
        "ORM: get by primary key",
        f"{s.gets} gets per round: `Item.objects.get(id=k)` builds the queryset, runs it through "
        "`Database` and hydrates a model. *held*: inside `async with db.connection()`, like the "
        "raw side; *pooled*: a connection from the pool per statement (asyncdb's default).",
        results,
        baseline=raw,
        unit="get",
        targets=[Target("ORM get vs held conn", held, raw, 1.5)],
    )


async def many_rows(report: Report, s: Settings, conn: asyncpg.Connection) -> None:
    async def raw_fetch(n: int) -> None:
        for i in range(n):
            await conn.fetch(PG_MANY, _LOW[i % 5])

    async def orm_models(n: int) -> None:
        for i in range(n):
            await Item.objects.filter(id__gt=_LOW[i % 5]).order_by("id")[:1000]

    async def orm_values(n: int) -> None:
        for i in range(n):
            qs = Item.objects.filter(id__gt=_LOW[i % 5]).order_by("id")[:1000]
            await qs.values_list("id", "name", "amount", "score", "created")

    raw = "asyncpg conn.fetch (held)"
    results = await measure(
        [
            Contender(raw, raw_fetch),
            Contender("orm models", orm_models),
            Contender("orm values_list", orm_values),
        ],
        ops=s.fetch_all_calls,
        rounds=s.rounds,
    )
    report.table(
        "ORM: 1,000 rows",
        f"{s.fetch_all_calls} calls of 1,000 rows (5 columns) per round.",
        results,
        baseline=raw,
        unit="call",
        items_per_op=1000,
        targets=[
            Target("ORM hydration rows/s", "orm models", raw, 0.4, kind="throughput"),
            Target("ORM values_list time", "orm values_list", raw, 1.3),
        ],
    )


async def writes(report: Report, s: Settings, conn: asyncpg.Connection) -> None:
    names = [f"bulk-{i}" for i in range(ROWS)]
    amounts = [i % 1000 for i in range(ROWS)]
    scores = [i / 3 for i in range(ROWS)]
    created = [EPOCH] * ROWS

    async def raw_bulk(n: int) -> None:
        for _ in range(n):
            keys = await conn.fetch(PG_BULK, names, amounts, scores, created)
            assert len(keys) == ROWS

    async def orm_bulk(n: int) -> None:
        for _ in range(n):
            objs = [
                Item(name=names[i], amount=amounts[i], score=scores[i], created=EPOCH)
                for i in range(ROWS)
            ]
            await Item.objects.bulk_create(objs)
            assert objs[-1].pk is not None

    async def trim() -> None:
        await conn.execute(f"DELETE FROM bench_orm_items WHERE id > {ROWS}")

    raw = "asyncpg INSERT ... unnest RETURNING id"
    results = await measure(
        [Contender(raw, raw_bulk), Contender("orm bulk_create", orm_bulk)],
        ops=1,
        rounds=max(3, s.execute_many_rounds // 2),
        warmup=1,
        before_batch=trim,
    )
    report.table(
        "ORM: bulk_create of 10,000 rows, keys returned",
        "One call per round (extra rows deleted before every batch, untimed). The ORM "
        "validates every object, sends multi-row INSERTs with RETURNING and sets the keys.",
        results,
        baseline=raw,
        unit="call",
        items_per_op=ROWS,
    )

    async def raw_update(n: int) -> None:
        for i in range(n):
            await conn.execute(PG_UPDATE, _LOW[i % 5], _LOW[i % 5] + 1000)

    async def orm_update(n: int) -> None:
        for i in range(n):
            low = _LOW[i % 5]
            await Item.objects.filter(id__gt=low, id__lte=low + 1000).update(
                amount=orm.F("amount") + 1
            )

    raw = "asyncpg UPDATE (held)"
    results = await measure(
        [Contender(raw, raw_update), Contender("orm update(F())", orm_update)],
        ops=s.fetch_all_calls,
        rounds=s.rounds,
    )
    report.table(
        "ORM: update of 1,000 rows",
        f"{s.fetch_all_calls} calls per round, `amount = amount + 1` on 1,000 rows.",
        results,
        baseline=raw,
        unit="call",
    )


async def relations(report: Report, s: Settings, conn: asyncpg.Connection) -> None:
    async def raw_join(n: int) -> None:
        for _ in range(n):
            await conn.fetch(PG_JOIN)

    async def orm_join(n: int) -> None:
        for _ in range(n):
            novels = await Novel.objects.select_related("writer").order_by("id")[:500]
            assert novels[0].writer.name

    async def raw_prefetch(n: int) -> None:
        for _ in range(n):
            writers = await conn.fetch(PG_WRITERS)
            await conn.fetch(PG_NOVELS_OF, [w[0] for w in writers])

    async def orm_prefetch(n: int) -> None:
        for _ in range(n):
            writers = await Writer.objects.prefetch_related("novels").order_by("id")[:100]
            assert len(writers[0].novels) == 10

    async def raw_m2m(n: int) -> None:
        for _ in range(n):
            novels = await conn.fetch(PG_NOVELS)
            await conn.fetch(PG_LABELS_OF, [r[0] for r in novels])

    async def orm_m2m(n: int) -> None:
        for _ in range(n):
            novels = await Novel.objects.prefetch_related("labels").order_by("id")[:100]
            assert len(novels[0].labels) == 3

    cases = [
        ("500 books select_related", "asyncpg JOIN", raw_join, orm_join),
        ("100 authors prefetch_related (10 books each)", "asyncpg 2 queries", raw_prefetch,
         orm_prefetch),
        ("100 books many-to-many prefetch (3 tags each)", "asyncpg 2 queries (m2m)", raw_m2m,
         orm_m2m),
    ]  # fmt: skip
    for title, raw, raw_batch, orm_batch in cases:
        results = await measure(
            [Contender(raw, raw_batch), Contender("orm", orm_batch)],
            ops=s.fetch_all_calls,
            rounds=s.rounds,
        )
        report.table(
            f"ORM relations: {title}",
            f"{s.fetch_all_calls} calls per round; raw asyncpg on a held connection.",
            results,
            baseline=raw,
            unit="call",
            targets=[Target(f"ORM {title}", "orm", raw, 2.0)],
        )


async def run(report: Report, s: Settings) -> None:
    """Every ORM workload on PostgreSQL; a note instead when there is no server."""
    db = Database(postgres_url())
    try:
        await db.connect()
    except Exception as exc:
        report.add(f"### ORM (PostgreSQL)\n\nskipped: cannot connect ({exc})\n")
        return
    models.database = db
    try:
        await setup(db)
        conn = await asyncpg.connect(postgres_dsn())
        try:
            await single_rows(report, s, conn)
            await many_rows(report, s, conn)
            await writes(report, s, conn)
            await relations(report, s, conn)
        finally:
            await conn.close()
    finally:
        await models.drop_all()
        await db.disconnect()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_orm")
    parser.add_argument("--quick", action="store_true", help="few short rounds")
    args = parser.parse_args(argv)
    settings = Settings().quick() if args.quick else Settings()
    report = Report()
    asyncio.run(run(report, settings))
    report.add(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
