"""ORM fixtures: test models in their own registries, tables created per test and dropped after.

Tables are prefixed ``orm_`` so they never clash with other suites in the shared databases.
DDL autocommits on MySQL, so tables are dropped explicitly (before, in case an earlier run was
killed, and after).
"""

from __future__ import annotations

import decimal
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest
from orm_models import MODELS, Item, Status, shop

import orm
from asyncdb import Database


async def _fresh(registry: orm.ModelRegistry, db: Database) -> AsyncIterator[None]:
    registry.database = db
    await registry.drop_all()
    await registry.create_all()
    try:
        yield
    finally:
        await registry.drop_all()
        registry.database = None


@pytest.fixture
async def models(db: Database) -> AsyncIterator[SimpleNamespace]:
    """The ``shop`` models with empty tables on the parametrised backend."""
    async for _ in _fresh(shop, db):
        yield MODELS


@pytest.fixture
async def items(models: SimpleNamespace) -> list[Item]:
    """Five items: alpha(10) beta(20) gamma(30, inactive) delta(40, live) Epsilon(50)."""
    rows = [
        Item(title="alpha", views=10, rating=1.5, price=decimal.Decimal("1.10"), genre="sf"),
        Item(title="beta", views=20, rating=2.5, price=decimal.Decimal("2.20"), genre="poetry"),
        Item(title="gamma", views=30, rating=None, active=False),
        Item(title="delta", views=40, rating=4.0, status=Status.LIVE, genre="sf"),
        Item(title="Epsilon", views=50, rating=5.0, price=decimal.Decimal("5.50")),
    ]
    return await Item.objects.bulk_create(rows)
