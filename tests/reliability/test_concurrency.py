"""Invariants under concurrency (issue 8, item 4), on all three backends (shared servers).

* Bank transfers: many tasks move money between accounts in transactions, locking with
  ``select_for_update()`` or guarding with a conditional ``F("balance") - amount`` update, while
  tasks are cancelled at random. The total never changes and no balance goes negative.
* Unique-constraint race: ``get_or_create`` from 50 tasks at once creates one row and returns
  that same row to every task.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator

import pytest

import orm
from asyncdb import Database, OperationalError

rel = orm.ModelRegistry()


class Account(orm.Model):
    registry = rel
    tablename = "rel_accounts"
    id = orm.Integer(primary_key=True)
    balance = orm.Integer()


class Label(orm.Model):
    registry = rel
    tablename = "rel_labels"
    id = orm.Integer(primary_key=True)
    name = orm.String(max_length=50, unique=True)
    note = orm.String(max_length=50, default="")


ACCOUNTS = 10
OPENING = 1_000
WORKERS = 20
TRANSFERS = 25
#: Errors that mean "the server chose this transaction as the victim, run it again": deadlock
#: (PostgreSQL 40P01, MySQL 1213), lock wait timeout (MySQL 1205), serialisation (40001).
RETRYABLE = {"40P01", "40001", "1213", "1205"}


@pytest.fixture
async def models(db: Database) -> AsyncIterator[Database]:
    rel.database = db
    await rel.drop_all()
    await rel.create_all()
    try:
        yield db
    finally:
        await rel.drop_all()
        rel.database = None


class _Insufficient(Exception):
    """Rolls a transfer back when the source account cannot pay."""


async def _transfer(db: Database, src: int, dst: int, amount: int, locking: bool) -> bool:
    async with db.transaction():
        if locking:
            rows = (
                await Account.objects.select_for_update().filter(id__in=[src, dst]).order_by("id")
            )
            balances = {a.id: a.balance for a in rows}
            if balances[src] < amount:
                return False
            for account, delta in sorted([(src, -amount), (dst, amount)]):
                await Account.objects.filter(id=account).update(balance=orm.F("balance") + delta)
            return True
        # No read: the debit itself checks the balance, and both rows are written in id order.
        for account in sorted((src, dst)):
            if account == src:
                matched = await Account.objects.filter(id=src, balance__gte=amount).update(
                    balance=orm.F("balance") - amount
                )
                if matched == 0:
                    raise _Insufficient
            else:
                await Account.objects.filter(id=dst).update(balance=orm.F("balance") + amount)
    return True


async def test_bank_transfers_keep_the_total(models: Database) -> None:
    db = models
    rng = random.Random(8)
    await Account.objects.bulk_create(
        [Account(id=i, balance=OPENING) for i in range(1, ACCOUNTS + 1)]
    )
    tally: Counter[str] = Counter()

    async def one(src: int, dst: int, amount: int, locking: bool) -> None:
        for _ in range(20):
            try:
                ok = await _transfer(db, src, dst, amount, locking)
            except _Insufficient:
                tally["refused"] += 1
                return
            except OperationalError as exc:
                if exc.code not in RETRYABLE:
                    raise
                tally["retried"] += 1
                continue
            tally["committed" if ok else "refused"] += 1
            return
        raise AssertionError("a transfer was chosen as a deadlock victim 20 times")

    async def worker(w: int) -> None:
        for _ in range(TRANSFERS):
            src, dst = rng.sample(range(1, ACCOUNTS + 1), 2)
            # Large amounts on purpose: many transfers must be refused for lack of funds.
            amount = rng.randint(1, OPENING // 2)
            transfer = asyncio.create_task(one(src, dst, amount, locking=rng.random() < 0.5))
            if rng.random() < 0.15:
                await asyncio.sleep(rng.uniform(0, 0.01))
                transfer.cancel()
            try:
                await transfer
            except asyncio.CancelledError:
                if not transfer.cancelled():
                    raise  # the worker itself was cancelled
                tally["cancelled"] += 1

    async with asyncio.timeout(120):
        await asyncio.gather(*(worker(w) for w in range(WORKERS)))
    await asyncio.sleep(0.05)  # background rollbacks of connections released mid-transaction

    balances = [a.balance for a in await Account.objects.all()]
    assert len(balances) == ACCOUNTS
    assert sum(balances) == ACCOUNTS * OPENING
    assert min(balances) >= 0
    assert await Account.objects.aggregate(total=orm.Sum("balance")) == {
        "total": ACCOUNTS * OPENING
    }
    stats = db.pool_stats()
    assert stats.in_use == 0 and stats.waiting == 0
    assert tally["committed"] > 0 and tally["cancelled"] > 0
    print(
        f"\n[bank {db.features.backend}] tasks={WORKERS} transfers={WORKERS * TRANSFERS} "
        f"{dict(tally)} total={sum(balances)} min={min(balances)}"
    )


@pytest.mark.parametrize("round_", range(3))
async def test_get_or_create_race_creates_one_row(models: Database, round_: int) -> None:
    name = f"race-{round_}"
    start = asyncio.Event()

    async def contender(i: int) -> tuple[Label, bool]:
        await start.wait()
        return await Label.objects.get_or_create(name=name, defaults={"note": f"by {i}"})

    tasks = [asyncio.create_task(contender(i)) for i in range(50)]
    await asyncio.sleep(0)
    start.set()
    async with asyncio.timeout(60):
        results = await asyncio.gather(*tasks)
    created = [obj for obj, was_created in results if was_created]
    assert len(created) == 1
    assert {obj.pk for obj, _ in results} == {created[0].pk}
    assert {obj.name for obj, _ in results} == {name}
    assert await Label.objects.filter(name=name).count() == 1
    assert models.pool_stats().in_use == 0
