"""Name resolution: ``"author__name__icontains"`` → (column, lookup...), adding JOINs.

A path walks fields model by model. Plain fields end it; a relation either ends it on its own
key column (``author=3``, ``author__in=[...]``, ``author__isnull=True``) or joins its target
and continues there (``author__name``). Each distinct relation path is joined once (LEFT OUTER,
so ``Q(...) | Q(...)`` across relations keeps rows whose relation is empty) and reused by every
condition, ordering, value and aggregate of the query.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.selectable import FromClause

from orm.exceptions import FieldError, ValidationError
from orm.lookups import Lookup, Transform, registry

if TYPE_CHECKING:
    from orm.expressions import Expression
    from orm.fields import Field
    from orm.models import Model

__all__ = ["JoinStep", "Leaf", "Params", "Relation", "Resolver", "filter_leaf", "param_name"]

SEP = "__"


class JoinStep(Protocol):
    """One JOIN of a relation: ``parent.c[from_attname] == table.c[to_attname]``."""

    table: sa.Table
    from_attname: str
    to_attname: str


class Relation(Protocol):
    """What the resolver needs from a relation (forward, reverse or many-to-many)."""

    name: str
    multi_valued: bool

    def target_model(self) -> type[Model]: ...
    def join_steps(self) -> list[tuple[sa.Table, str, str]]: ...


def param_name(index: int) -> str:
    """The name of a query's ``index``-th filter parameter (``orm_0``, ``orm_1``...)."""
    return f"orm_{index}"


class Params:
    """The bound parameters of one compiled query, named ``orm_0``, ``orm_1``, ... in order.

    Each lookup also leaves a *binder*: a function from its raw value to its parameters. A
    queryset of the same shape reuses the compiled statement and only runs the binders.
    """

    __slots__ = ("binders", "cacheable", "count", "values")

    def __init__(self) -> None:
        self.count = 0
        self.binders: list[Callable[[Any], tuple[Any, ...]]] = []
        self.values: dict[str, Any] = {}
        #: False once something was compiled that binders cannot redo (F(), subqueries).
        self.cacheable = True

    def bind(self, value: Any, type_: Any, *, expanding: bool = False) -> BindParameter[Any]:
        name = param_name(self.count)
        self.count += 1
        self.values[name] = value
        return sa.bindparam(name, value, type_=type_, expanding=expanding)


class Leaf:
    """A filter key resolved against a model (``"author__name__icontains"``): the relations
    to join, the column, the transforms applied to it and the lookup comparing the result.

    Resolved once per model and key (``filter_leaf``) and kept on the model's options: the
    statement cache asks every query's keys for their lookup's shape.
    """

    __slots__ = (
        "annotation",
        "attname",
        "convert",
        "field",
        "label",
        "lookup",
        "nullable",
        "path",
        "shape",
        "transforms",
    )

    def __init__(
        self,
        *,
        path: tuple[str, ...],
        field: Field[Any] | None,
        annotation: str | None,
        transforms: tuple[Transform, ...],
        lookup: Lookup,
        target: Field[Any] | None,
    ) -> None:
        self.path = path
        self.field = field
        self.annotation = annotation
        self.attname = field.attname if field is not None else None
        self.transforms = transforms
        self.lookup = lookup
        #: ``lookup.shape``, or None when the lookup's SQL never depends on the value (no call
        #: needed for every query).
        self.shape: Callable[[Any], Any] | None = (
            lookup.shape if type(lookup).shape is not Lookup.shape else None
        )
        #: Checks and converts a value compared by the lookup (the field's own check).
        self.convert: Callable[[Any], Any] = (
            target.validate_lookup if target is not None else _identity
        )
        #: Names the compared thing in messages (``Book.title``, ``Book.created__year``).
        self.label = (
            f"{field.model.__name__}.{field.name}" if field is not None else str(annotation)
        )
        if transforms:
            self.label += SEP + SEP.join(t.key for t in transforms)
            if field is not None:  # the transform's output field checks the values
                self.convert = _naming(self.convert, field.model.__name__, self.label)
        #: The compared value may be NULL on a row (so ``exclude()`` needs an IS NOT NULL).
        self.nullable = field is None or field.null or bool(transforms)


def _identity(value: Any) -> Any:
    return value


def _naming(convert: Callable[[Any], Any], model: str, label: str) -> Callable[[Any], Any]:
    """``convert``, its ValidationErrors naming ``label`` (``Book.created__year``)."""
    name = label.split(".", 1)[1]

    def named(value: Any) -> Any:
        try:
            return convert(value)
        except ValidationError as exc:
            raise ValidationError(model, name, exc.problem) from None

    return named


def filter_leaf(model: type[Model], key: str, annotations: Sequence[str] = ()) -> Leaf:
    """The resolved filter ``key`` of ``model`` (not an annotation's), cached on its options.

    ``annotations`` only add to the names an error lists. Raises FieldError for a key that
    names no field, relation or lookup.
    """
    cache = model._meta.leaves
    leaf = cache.get(key)
    if leaf is None:
        path, field, rest = _walk(model, key, annotations)
        transforms, lookup, target = _chain(rest, field, key)
        leaf = Leaf(
            path=path,
            field=field,
            annotation=None,
            transforms=transforms,
            lookup=lookup,
            target=target,
        )
        cache.put(key, leaf)
    return leaf


def _walk(
    model: type[Model], key: str, annotations: Sequence[str]
) -> tuple[tuple[str, ...], Field[Any], list[str]]:
    """Follow ``key`` field by field: (relations to join, the field reached, the parts after
    it). A relation ends the walk on its own key column (``author=3``, ``author__in=[...]``)
    or joins its target and continues there (``author__name``)."""
    parts = key.split(SEP)
    current = model
    path: tuple[str, ...] = ()
    for index, part in enumerate(parts):
        rest = parts[index + 1 :]
        meta = current._meta
        field = meta.fields.get(part) or meta.by_attname.get(part)
        if field is None and part == "pk":
            field = meta.pk
        relation = _relation(current, part)
        if field is None and relation is None:
            raise meta.unknown(part, purpose="field", extra=list(annotations) if not path else [])
        if relation is None or (field is not None and field.concrete and _ends(rest, field)):
            # A plain field, or a foreign key compared on its own column.
            assert field is not None
            return path, field, rest
        path = (*path, part)
        current = relation.target_model()
        pk = current._meta.pk
        if _ends(rest, pk):
            return path, pk, rest
    raise FieldError(f"{model._meta.name}: cannot resolve {key!r}")  # pragma: no cover


def _ends(rest: list[str], field: Field[Any]) -> bool:
    """Whether the parts after a relation compare its key (nothing or one lookup follows)."""
    return not rest or (len(rest) == 1 and registry.lookup(rest[0], field) is not None)


def _chain(
    rest: list[str], field: Field[Any] | None, key: str
) -> tuple[tuple[Transform, ...], Lookup, Field[Any] | None]:
    """Split the parts after a field into transforms and a lookup (``exact`` when none is
    named): (transforms, lookup, the field that checks the compared values)."""
    target = field
    transforms: list[Transform] = []
    for index, part in enumerate(rest):
        if index == len(rest) - 1:
            lookup = registry.lookup(part, target)
            if lookup is not None:
                return tuple(transforms), lookup, target
        transform = registry.transform(part, target)
        if transform is None:
            owner = _owner(field, key)
            raise FieldError(
                f"{key!r}: unsupported lookup {SEP.join(rest[index:])!r} for {owner}. "
                f"Lookups: {', '.join(registry.lookup_names(target))}."
            )
        transforms.append(transform)
        target = transform.output(target) or target
    exact = registry.lookup("exact", target)
    assert exact is not None, "the exact lookup is always registered"
    return tuple(transforms), exact, target


def _owner(field: Field[Any] | None, key: str) -> str:
    return f"{field.model.__name__}.{field.name}" if field is not None else key


class Resolver:
    """Resolves names for one query, collecting the JOINs they need."""

    def __init__(
        self,
        model: type[Model],
        annotations: dict[str, Expression] | None = None,
        params: Params | None = None,
    ):
        self.model = model
        self.params = params if params is not None else Params()
        self.root: FromClause = model.table
        self.annotations = annotations or {}
        self.joins: dict[tuple[str, ...], tuple[FromClause, type[Model]]] = {}
        self._from: FromClause = self.root
        self._aliases = 0
        #: True once a reverse or many-to-many join was added (rows may repeat).
        self.multi_valued = False

    def from_clause(self) -> FromClause:
        return self._from

    def join(self, path: tuple[str, ...]) -> tuple[FromClause, type[Model]]:
        """Join the relation path (``("author", "publisher")``) once; its alias and model."""
        if not path:
            return self.root, self.model
        if path in self.joins:
            return self.joins[path]
        parent, model = self.join(path[:-1])
        relation = _relation(model, path[-1])
        if relation is None:
            raise model._meta.unknown(path[-1], purpose="relation")
        alias: FromClause = parent
        for table, from_attname, to_attname in relation.join_steps():
            self._aliases += 1
            target = table.alias(f"{SEP.join(path)}_{self._aliases}"[-60:])
            self._from = self._from.outerjoin(target, alias.c[from_attname] == target.c[to_attname])
            alias = target
        self.multi_valued = self.multi_valued or relation.multi_valued
        self.joins[path] = (alias, relation.target_model())
        return self.joins[path]

    def leaf(self, key: str) -> tuple[ColumnElement[Any], Leaf]:
        """Resolve the filter ``key``: (the compared column or annotation, before any
        transform; its ``Leaf``), joining the relations it follows."""
        name = key.split(SEP, 1)[0]
        annotation = self.annotations.get(name)
        if annotation is not None:
            transforms, lookup, target = _chain(key.split(SEP)[1:], None, key)
            leaf = Leaf(
                path=(),
                field=None,
                annotation=name,
                transforms=transforms,
                lookup=lookup,
                target=target,
            )
            return annotation.resolve(self), leaf
        leaf = filter_leaf(self.model, key, list(self.annotations))
        alias, _ = self.join(leaf.path)
        assert leaf.attname is not None  # a field's leaf
        return alias.c[leaf.attname], leaf

    def column(self, key: str) -> tuple[ColumnElement[Any], Any]:
        """Resolve a field path with no lookup (``F()``, ``order_by``, ``values``): (column or
        expression, field or annotation)."""
        parts = key.split(SEP)
        annotation = self.annotations.get(parts[0])
        if annotation is not None:
            if len(parts) > 1:
                raise FieldError(f"{key!r}: {key} has no field {parts[1]!r} (not a relation)")
            return annotation.resolve(self), annotation
        path, field, rest = _walk(self.model, key, list(self.annotations))
        if rest:
            raise FieldError(
                f"{key!r}: {_owner(field, key)} has no field {rest[0]!r} (not a relation)"
            )
        alias, _ = self.join(path)
        return alias.c[field.attname], field


def _relation(model: type[Model], name: str) -> Relation | None:
    """The relation called ``name`` on ``model`` (a forward field or a reverse accessor)."""
    field = model._meta.fields.get(name)
    if field is not None and field.is_relation:
        return field  # type: ignore[return-value]
    related: Relation | None = model._meta.related.get(name)
    return related
