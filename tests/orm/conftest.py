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
from library_models import LIBRARY, library
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


@pytest.fixture
async def lib(db: Database) -> AsyncIterator[SimpleNamespace]:
    """The ``library`` models (relations) with empty tables on the parametrised backend."""
    async for _ in _fresh(library, db):
        yield LIBRARY


@pytest.fixture
async def books(lib: SimpleNamespace) -> SimpleNamespace:
    """Two publishers, three authors, five books, three tags (see the code for who is who)."""
    L = lib
    penguin = await L.Publisher.objects.create(name="Penguin")
    await L.Publisher.objects.create(name="Empty")
    ann = await L.Author.objects.create(name="Ann", publisher=penguin)
    bob = await L.Author.objects.create(name="Bob", publisher=penguin)
    cy = await L.Author.objects.create(name="Cy")
    sf, poetry, short = await L.Tag.objects.bulk_create(
        [L.Tag(name="sf"), L.Tag(name="poetry"), L.Tag(name="short")]
    )
    dune = await L.Book.objects.create(title="Dune", author=ann, pages=600, editor=bob)
    emma = await L.Book.objects.create(title="Emma", author=ann, pages=300)
    odes = await L.Book.objects.create(title="Odes", author=bob, pages=80, editor=ann)
    await L.Book.objects.create(title="Solaris", author=bob, pages=200)
    await dune.tags.add(sf)
    await odes.tags.add(poetry, short)
    await emma.tags.add(short)
    return SimpleNamespace(penguin=penguin, ann=ann, bob=bob, cy=cy, sf=sf, poetry=poetry,
                           short=short, dune=dune, emma=emma, odes=odes)  # fmt: skip
