"""The model registry: one ``MetaData``, the models defined against it, and their database."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.schema import CreateIndex, CreateTable, DropTable

from orm.exceptions import ORMError

if TYPE_CHECKING:
    from asyncdb import Database
    from orm.models import Model

__all__ = ["NAMING_CONVENTION", "ModelRegistry"]

#: Every index and constraint gets a deterministic name, so migrations can drop it later.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class ModelRegistry:
    """Holds models, their tables (``metadata``) and the ``Database`` they query.

    ``database`` may be set later (``models.database = db``), before the first query.
    """

    def __init__(self, database: Database | None = None) -> None:
        self.database = database
        """The ``Database`` the models query (``None`` until one is set)."""
        self.metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
        """The SQLAlchemy ``MetaData`` holding the models' tables (what migrations compare)."""
        self.models: dict[str, type[Model]] = {}
        """The registered models by class name."""
        # Callbacks that finish a relation once its target model is registered; each returns
        # True when it could run.
        self._pending: list[tuple[str, Callable[[], bool]]] = []
        self._resolving = False

    def __repr__(self) -> str:
        return f"<ModelRegistry models={sorted(self.models)}>"

    # -- models --------------------------------------------------------------------------------

    def _register(self, model: type[Model]) -> None:
        name = model.__name__
        if name in self.models:
            raise ORMError(f"a model named {name!r} is already registered in this registry")
        self.models[name] = model
        self._resolve_pending()

    def get_model(self, name: str) -> type[Model] | None:
        """The model class called ``name`` in this registry, or ``None``."""
        return self.models.get(name)

    def _defer(self, description: str, callback: Callable[[], bool]) -> None:
        """Run ``callback`` now if it can, else each time a model registers until it can."""
        if not callback():
            self._pending.append((description, callback))

    def _resolve_pending(self) -> None:
        if self._resolving:
            return  # a model defined while resolving (an automatic link table) waits its turn
        self._resolving = True
        try:
            progress = True
            while progress and self._pending:
                progress = False
                for item in list(self._pending):
                    if item in self._pending and item[1]():
                        self._pending.remove(item)
                        progress = True
        finally:
            self._resolving = False

    def check(self) -> None:
        """Raise ``ORMError`` if a relation still points at a model that was never defined."""
        self._resolve_pending()
        if self._pending:
            problems = "; ".join(description for description, _ in self._pending)
            raise ORMError(f"unresolved relations: {problems}")

    def get_database(self) -> Database:
        """The ``Database`` set on the registry; ``ORMError`` saying how to set one if none is."""
        if self.database is None:
            raise ORMError(
                "this ModelRegistry has no database: create it with "
                "orm.ModelRegistry(database=db) or set registry.database = db"
            )
        return self.database

    # -- schema --------------------------------------------------------------------------------

    async def create_all(self, database: Database | None = None) -> None:
        """Create every table and index that does not exist yet, in dependency order."""
        self.check()
        db = database or self.get_database()
        for table in self.metadata.sorted_tables:
            await db.execute(CreateTable(table, if_not_exists=True))
            for index in sorted(table.indexes, key=lambda ix: str(ix.name)):
                await db.execute(CreateIndex(index, if_not_exists=True))

    async def drop_all(self, database: Database | None = None) -> None:
        """Drop every table of this registry that exists, dependents first."""
        db = database or self.get_database()
        for table in reversed(self.metadata.sorted_tables):
            await db.execute(DropTable(table, if_exists=True))

    def _table_for(self, model: type[Model], columns: list[sa.Column[Any]]) -> sa.Table:
        return sa.Table(model.tablename, self.metadata, *columns)
