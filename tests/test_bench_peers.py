"""``make bench-peers``'s own plumbing (no timings): the workload table, the schema it builds on
SQLite, the targets it picks and the block it writes into ``docs/performance.md``."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest

from asyncdb import Database
from benchmarks import bench_peers as bp
from benchmarks.harness import Measurement

PEERS = Path(bp.__file__).resolve().parent / "peers"


def registered_ops(*scripts: str) -> set[str]:
    """The workloads that ``op("workload", ...)`` calls in these worker scripts register."""
    found: set[str] = set()
    for script in scripts:
        for node in ast.walk(ast.parse((PEERS / script).read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "op"
                and node.args
            ):
                first = node.args[0]
                if isinstance(first, ast.Constant):
                    found.add(first.value)
                elif isinstance(first, ast.Name):  # the loop over ("bulk_create", ...) pairs
                    found.update({"bulk_create", "bulk_create_c10"})
    return found


def test_every_workload_but_the_gateway_runs_at_one_and_ten_tasks() -> None:
    names = [w.name for w in bp.WORKLOADS]
    assert len(names) == len(set(names))
    for w in bp.WORKLOADS:
        if w.burst:
            continue
        if w.concurrency == 1:
            ten = next(x for x in bp.WORKLOADS if x.name == f"{w.name}_c10")
            assert ten.concurrency == 10
            assert ten.title.endswith(", 10 tasks") and w.title.endswith(", 1 task")
        assert w.n >= w.concurrency
        assert bp.quick(w).n >= w.concurrency


def test_the_ten_task_bulk_create_inserts_as_many_rows_as_the_one_task_one() -> None:
    one = next(w for w in bp.WORKLOADS if w.name == "bulk_create")
    ten = next(w for w in bp.WORKLOADS if w.name == "bulk_create_c10")
    assert one.n * one.items_per_op == ten.n * ten.items_per_op == 10_000


@pytest.mark.parametrize(
    "scripts",
    [
        ("asyncdb_worker.py",),
        ("raw_asyncpg.py",),
        ("raw_aiomysql.py",),
        ("raw_aiosqlite.py",),
    ],
)
def test_ours_and_every_raw_driver_do_every_workload(scripts: tuple[str, ...]) -> None:
    assert {w.op for w in bp.WORKLOADS} <= registered_ops(*scripts)


def test_only_selects_by_backend_and_name() -> None:
    assert {w.name for w in bp.selected("sqlite", ["c10"])} == {
        w.name for w in bp.WORKLOADS if w.concurrency == 10
    }
    assert [w.name for w in bp.selected("mysql", ["mysql gateway"])] == ["gateway"]
    assert bp.selected("postgresql", ["sqlite"]) == []
    assert len(bp.selected("postgresql", [])) == len(bp.WORKLOADS)


def test_portable_rows_are_the_postgresql_rows() -> None:
    rows = bp.portable_rows()
    assert len(rows["peer_authors"]) == 1000 and len(rows["peer_tags"]) == 20
    books = rows["peer_books"]
    assert len(books) == 10_000
    # 'book-' || g, (g - 1) % 1000 + 1, g % 700 + 50, g / 7.0, date '2000-01-01' + g % 9000
    assert books[1233] == {
        "id": 1234,
        "title": "book-1234",
        "author_id": 234,
        "pages": 1234 % 700 + 50,
        "price": 1234 / 7,
        "published": bp.EPOCH + bp.dt.timedelta(days=1234),
    }
    links = {(r["book_id"], r["tag_id"]) for r in rows["peer_books_tags"]}
    assert len(links) == 30_000
    wide = rows["peer_wide"][41]
    assert len(wide) == 30 and wide["i03"] == 42 * 3 % 1000 and wide["s10"] == "s10-42"


def test_the_schema_and_hooks_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'peers.db'}"

    async def check() -> None:
        schema = bp.Schema("sqlite", url)
        await schema.create()
        try:
            await schema.refill_trash(3)
            async with Database(url) as db:
                await db.execute("INSERT INTO peer_sink (title, pages, price) VALUES ('x', 1, 2)")
                counts = {
                    table: await db.fetch_val(f"SELECT count(*) FROM {table}")
                    for table in bp.TABLES
                }
                tags = await db.fetch_all(
                    "SELECT tag_id FROM peer_books_tags WHERE book_id = 1 ORDER BY tag_id"
                )
            assert counts == {
                "peer_books_tags": 30_000,
                "peer_books": 10_000,
                "peer_tags": 20,
                "peer_authors": 1000,
                "peer_wide": 10_000,
                "peer_sink": 1,
                "peer_trash": 3000,
            }
            assert [t[0] for t in tags] == [2, 9, 16]
            await schema.truncate_sink(1)
            async with Database(url) as db:
                assert await db.fetch_val("SELECT count(*) FROM peer_sink") == 0
        finally:
            await schema.drop()

    asyncio.run(check())


def contender(label: str, column: str) -> bp.Contender:
    return bp.Contender(worker=None, label=label, column=column)  # type: ignore[arg-type]


def test_targets_bind_on_postgresql_and_inform_elsewhere() -> None:
    get = next(w for w in bp.WORKLOADS if w.name == "get")
    field = [
        contender(bp.OURS, bp.OURS),
        contender("aiosqlite", bp.RAW),
        contender(bp.TORTOISE, bp.TORTOISE),
        contender(bp.SA_ORM, bp.SA_ORM),
    ]
    on_pg = bp._targets(get, field, "postgresql")
    assert [t.baseline for t in on_pg] == [bp.TORTOISE, bp.SA_ORM, "aiosqlite"]
    assert not any(t.informative for t in on_pg)
    on_mysql = bp._targets(get, field, "mysql")
    assert all(t.informative and t.label.startswith("MariaDB, info: ") for t in on_mysql)
    on_sqlite = bp._targets(get, field, "sqlite")
    binding = [t for t in on_sqlite if not t.informative]
    assert [t.label for t in binding] == ["SQLite ORM get (1 task) vs raw aiosqlite (1 hop)"]


def test_summary_gives_our_ratio_to_every_column() -> None:
    ours, raw = Measurement(bp.OURS, wall=[2.0, 2.0]), Measurement("aiomysql", wall=[1.0, 1.0])
    slow = Measurement(bp.TORTOISE, wall=[8.0, 8.0])
    results = {bp.OURS: ours, "aiomysql": raw, bp.TORTOISE: slow}
    columns = {bp.OURS: bp.OURS, "aiomysql": bp.RAW, bp.TORTOISE: bp.TORTOISE}
    text, rows = bp.summaries([bp.Outcome("mysql", "get, 1 task", results, columns)])
    assert "Summary, MariaDB" in text and "Raw driver: aiomysql" in text
    assert "| get, 1 task | 0.5 | 1.0 (**0.50x**) | 0.1 (**4.00x**) |" in text
    assert rows == [
        {
            "backend": "mysql",
            "workload": "get, 1 task",
            "ops": {bp.OURS: 0.5, bp.RAW: 1.0, bp.TORTOISE: 0.125},
            "ratio": {bp.RAW: 0.5, bp.TORTOISE: 4.0},
        }
    ]


def test_docs_splice_appends_the_markers_then_replaces_only_between_them() -> None:
    page = "# Performance\n\nHand-written text.\n"
    first = bp.splice_docs(page, "run one")
    assert first == f"{page}\n{bp.DOCS_BEGIN}\nrun one\n{bp.DOCS_END}\n"
    edited = first.replace("Hand-written text.", "Edited by someone else.") + "\nA footer.\n"
    second = bp.splice_docs(edited, "run two\n")
    assert second == edited.replace("run one", "run two")
    assert bp.splice_docs(second, "run two") == second


FAULTY_WORKER = """
import asyncio, sys, time
sys.path.insert(0, {peers!r})
from _protocol import op, serve

@op("fine", "fine")
async def fine(i, slot):
    await asyncio.sleep(0)

@op("fine", "raises")
async def raises(i, slot):
    if slot == 3:
        raise LookupError("no such book")
    await asyncio.sleep(0)

@op("fine", "hangs")
async def hangs(i, slot):
    await asyncio.sleep(3600)

@op("fine", "blocks")
async def blocks(i, slot):
    time.sleep(3600)

async def nothing():
    pass

serve({{"faulty": "1"}}, nothing, nothing)
"""


def test_a_failing_or_hung_contender_is_left_out_with_its_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "faulty_worker.py"
    script.write_text(FAULTY_WORKER.format(peers=str(PEERS)))
    monkeypatch.setattr(bp, "BATCH_TIMEOUT", 0.5)
    monkeypatch.setattr(bp, "KILL_GRACE", 1.0)
    workload = bp.Workload("fine_c10", "fine", "fine", "fine", 20, concurrency=10)

    async def check() -> None:
        peer = bp.Peer("faulty", Path(bp.sys.executable), str(script))
        started = [await bp.start_worker(peer, "sqlite:///unused") for _ in range(2)]
        first, second = started
        assert isinstance(first, bp.Worker) and isinstance(second, bp.Worker)
        contenders = [
            bp.Contender(first, "fine", "fine"),
            bp.Contender(first, "raises", "raises"),
            bp.Contender(first, "hangs", "hangs"),
            bp.Contender(second, "blocks", "blocks"),
        ]
        failed: list[str] = []
        try:
            results = await bp.measure(workload, contenders, 5, None, failed)
        finally:
            await first.close()
            await second.close()
        assert list(results) == ["fine"] and len(results["fine"].wall) == 5
        assert failed[0] == "raises: LookupError: no such book"
        assert failed[1].startswith("hangs: TimeoutError: batch of 10 did not finish within 0.5")
        assert failed[2] == "blocks: worker faulty: no answer within 2 s (killed)"
        assert second.dead is not None and second.process.returncode is not None

    asyncio.run(check())


def test_a_failing_untimed_hook_stops_the_workload_with_its_cause() -> None:
    workload = next(w for w in bp.WORKLOADS if w.name == "insert")

    async def locked(n: int) -> None:
        raise TimeoutError("canceling statement due to lock timeout")

    async def check() -> None:
        with pytest.raises(bp.HookFailed, match="before asyncdb orm's batch: canceling statement"):
            await bp.measure(workload, [contender(bp.OURS, bp.OURS)], 5, locked, [])

    asyncio.run(check())
