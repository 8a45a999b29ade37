"""Related managers: ``author.books`` (reverse foreign key) and ``book.tags`` (many-to-many).

A related manager is a ``QuerySet`` over the related rows (``await author.books.all()``,
``author.books.filter(...)``, ``await author.books.count()``). Its plain-Python side
(``list()``, ``len()``, iteration, indexing, truth) reads what ``prefetch_related`` loaded and
raises ``RelationNotLoaded`` otherwise: it never queries on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from orm.exceptions import FieldError, ORMError
from orm.expressions import Q
from orm.query.state import QueryState
from orm.queryset import QuerySet
from orm.relations import ReverseRelation, not_loaded

if TYPE_CHECKING:
    from orm.models import Model

__all__ = ["RelatedManager"]

_T = TypeVar("_T")


class _KeysOf:
    """A ``__in`` value that is a subquery: the target keys linked to one instance."""

    def __init__(self, statement: sa.Select[Any]) -> None:
        self.statement = statement

    def _subquery_for_in(self) -> sa.Select[Any]:
        return self.statement


class RelatedManager(QuerySet[_T]):
    """The related objects of one instance (``author.books``, ``book.tags``).

    A ``QuerySet`` over them (``await author.books.all()``, ``.filter(...)``, ``.count()``),
    plus ``create``, and ``add``/``remove``/``clear``/``set`` for many-to-many links. Its
    plain-Python side (``list()``, ``len()``, iteration, ``in``, ``[i]``) reads what
    ``prefetch_related`` loaded and raises ``RelationNotLoaded`` otherwise: it never queries.
    """

    __slots__ = ("instance", "relation")

    def __init__(self, instance: Model, relation: Any) -> None:
        self.instance = instance
        self.relation = relation
        target = relation.target_model()
        if isinstance(relation, ReverseRelation):
            condition = Q(**{relation.field.name: instance.pk})
        else:
            through = relation.through_model.table
            keys = sa.select(through.c[relation.target_field.attname]).where(
                through.c[relation.source_field.attname] == instance.pk
            )
            condition = Q(pk__in=_KeysOf(keys))
        super().__init__(target, QueryState(target).replace(where=(condition,)))

    def __repr__(self) -> str:
        return f"<RelatedManager {type(self.instance).__name__}.{self.relation.name}>"

    # -- the prefetched list -------------------------------------------------------------------

    def _loaded(self) -> list[Any]:
        try:
            return self.instance.__dict__[self.relation.cache_name]  # type: ignore[no-any-return]
        except KeyError:
            owner = type(self.instance).__name__
            raise not_loaded(owner, self.relation.name, "prefetch_related", owner.lower()) from None

    def __iter__(self) -> Iterator[_T]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())

    def __bool__(self) -> bool:
        return bool(self._loaded())

    def __contains__(self, item: object) -> bool:
        return item in self._loaded()

    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, int):
            return self._loaded()[item]
        return super().__getitem__(item)

    async def _fetch(self) -> list[_T]:
        """The related objects: the prefetched list when there is one, else one query."""
        loaded = self.instance.__dict__.get(self.relation.cache_name)
        if loaded is not None:
            return list(loaded)
        return await super()._fetch()

    def _forget(self) -> None:
        self.instance.__dict__.pop(self.relation.cache_name, None)

    # -- changing the relation -----------------------------------------------------------------

    def _require_saved(self) -> Any:
        pk = self.instance.pk
        if pk is None:
            raise ORMError(f"save the {type(self.instance).__name__} before changing its relations")
        return pk

    async def create(self, **values: Any) -> _T:
        """Create a related object linked to this instance."""
        self._require_saved()
        self._forget()
        if isinstance(self.relation, ReverseRelation):
            values[self.relation.field.name] = self.instance
            return await super().create(**values)
        async with self.database.transaction():
            obj: Any = await QuerySet(self.model).using(self.database).create(**values)
            await self.add(obj)
        return obj  # type: ignore[no-any-return]

    def _keys(self, objs: Iterable[Any]) -> list[Any]:
        pk_field = self.model._meta.pk
        keys = []
        for obj in objs:
            if isinstance(obj, self.model):
                if obj.pk is None:
                    raise ORMError(f"save the {self.model.__name__} before linking it")
                keys.append(obj.pk)
            else:
                keys.append(pk_field.validate_lookup(obj))
        return keys

    def _many_to_many(self) -> tuple[sa.Table, sa.Column[Any], sa.Column[Any]]:
        if isinstance(self.relation, ReverseRelation):
            raise FieldError(
                f"{type(self.instance).__name__}.{self.relation.name} is a reverse foreign key: "
                f"set {self.model.__name__}.{self.relation.field.name} and save instead"
            )
        table = self.relation.through_model.table
        source = table.c[self.relation.source_field.attname]
        target = table.c[self.relation.target_field.attname]
        return table, source, target

    async def add(self, *objs: Any) -> None:
        """Link ``objs`` (instances or keys); already linked ones are skipped. One statement."""
        table, source, target = self._many_to_many()
        pk = self._require_saved()
        keys = self._keys(objs)
        self._forget()
        if not keys:
            return
        target_table = self.model.table
        target_pk = target_table.c[self.model._meta.pk.attname]
        link = table.alias("existing")
        columns, defaults = self._link_defaults(source, target)
        rows = (
            sa.select(sa.literal(pk, source.type), target_pk, *defaults)
            .where(target_pk.in_(keys))
            .where(
                ~sa.exists().where(link.c[source.key] == pk).where(link.c[target.key] == target_pk)
            )
        )
        await self.database.execute(sa.insert(table).from_select([source, target, *columns], rows))

    def _link_defaults(
        self, source: sa.Column[Any], target: sa.Column[Any]
    ) -> tuple[list[sa.Column[Any]], list[Any]]:
        """Columns of a ``through`` model besides the two keys, with their defaults."""
        through = self.relation.through_model
        columns: list[sa.Column[Any]] = []
        values: list[Any] = []
        for field in through._meta.concrete_fields:
            column = through.table.c[field.attname]
            if field.primary_key or column is source or column is target:
                continue
            if not field.has_default and not field.null:
                raise FieldError(
                    f"{through.__name__}.{field.name} has no default: create "
                    f"{through.__name__} rows with {through.__name__}.objects.create(...)"
                )
            field.validate(value := field.get_default())
            columns.append(column)
            values.append(sa.literal(value, column.type))
        return columns, values

    async def remove(self, *objs: Any) -> None:
        """Unlink ``objs``. One statement."""
        table, source, target = self._many_to_many()
        pk = self._require_saved()
        keys = self._keys(objs)
        self._forget()
        if keys:
            await self.database.execute(
                sa.delete(table).where(source == pk).where(target.in_(keys))
            )

    async def clear(self) -> None:
        """Unlink everything. One statement."""
        table, source, _ = self._many_to_many()
        pk = self._require_saved()
        self._forget()
        await self.database.execute(sa.delete(table).where(source == pk))

    async def set(self, objs: Iterable[Any]) -> None:
        """Make ``objs`` exactly the linked set (unlink the rest, link the missing)."""
        table, source, target = self._many_to_many()
        pk = self._require_saved()
        keys = self._keys(objs)
        async with self.database.transaction():
            statement = sa.delete(table).where(source == pk)
            if keys:
                statement = statement.where(target.not_in(keys))
            await self.database.execute(statement)
            await self.add(*keys)
