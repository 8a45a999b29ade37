"""Instances that lack some field values, and the errors reading one of those raises.

A model class holds no descriptor for its plain fields (see ``ModelMeta``), so CPython reads and
stores the attributes of its instances on its fastest paths. The instances that miss values — a
reference (``book.author`` before it is loaded: only its key is known) and a row loaded with
``only()``/``defer()`` — are of a subclass made for the purpose, with the same name, whose
``__getattr__`` turns a missing field into ``RelationNotLoaded`` or
``FieldNotLoaded`` instead of a bare ``AttributeError``. ``isinstance(obj, Book)`` holds
for them; ``type(obj) is Book`` does not until ``await obj.load()`` has filled them in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orm.exceptions import FieldNotLoaded, RelationNotLoaded

if TYPE_CHECKING:
    from orm.models import Model

__all__ = ["REFERENCE", "complete", "incomplete_class", "not_loaded", "reference"]

#: ``__dict__`` key of a reference instance (only its key is known): (owner model, relation).
REFERENCE = "__orm_reference__"

_new = object.__new__


def not_loaded(instance: object, name: str) -> AttributeError:
    """The error for reading field ``name`` (its name) that ``instance`` was loaded without."""
    reference = instance.__dict__.get(REFERENCE)
    if reference is not None:
        owner_name, relation = reference
        return RelationNotLoaded(
            f"{owner_name}.{relation} is not loaded. Use "
            f"{owner_name}.objects.select_related({relation!r}), or await "
            f"{owner_name.lower()}.{relation}.load()."
        )
    model = type(instance).__name__
    return FieldNotLoaded(
        f"{model}.{name} was not loaded (left out by only()/defer()); "
        f"use await {model.lower()}.load() to fetch all fields."
    )


def _missing(self: Model, name: str) -> Any:
    # Reached only when normal lookup raised AttributeError: a field value this instance
    # lacks, a descriptor that raised one (a relation: RelationNotLoaded, FieldNotLoaded for
    # its deferred key), or a name that is not an attribute at all.
    field = self._meta.by_attname.get(name)
    if field is not None:
        raise not_loaded(self, field.name)
    for klass in type(self).__mro__:
        attribute = klass.__dict__.get(name)
        if attribute is not None and hasattr(type(attribute), "__get__"):
            return attribute.__get__(self, type(self))  # raises its own error again
    raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


def _reduce(self: Model, protocol: int) -> tuple[Any, ...]:
    # The subclass is not importable by name: pickle and copy rebuild it from the model.
    return _rebuild, (self._meta.model, dict(self.__dict__))


def _rebuild(model: type[Model], state: dict[str, Any]) -> Model:
    obj: Model = _new(incomplete_class(model))
    obj.__dict__.update(state)
    return obj


def incomplete_class(model: type[Model]) -> type[Model]:
    """The subclass of ``model`` that instances missing some field values belong to."""
    cls: type[Model] | None = model.__dict__.get("_orm_incomplete")
    if cls is None:
        namespace = {
            "__slots__": (),  # the same layout: ``__class__`` can be switched back
            "__module__": model.__module__,
            "__qualname__": model.__qualname__,
            "__doc__": model.__doc__,
            "__getattr__": _missing,
            "__reduce_ex__": _reduce,
            "_orm_all": model.objects,  # ``type(obj).objects`` queries the model itself
        }
        # type.__new__, not the metaclass: this is no new model (no table, no registration).
        cls = type.__new__(type(model), model.__name__, (model,), namespace)
        type.__setattr__(model, "_orm_incomplete", cls)
    return cls


def reference(model: type[Model], key: Any, owner: str, relation: str) -> Model:
    """A pk-only ``model`` instance standing for ``owner.relation``; reading another field
    raises RelationNotLoaded."""
    obj: Model = _new(incomplete_class(model))
    state = obj.__dict__
    state[model._meta.pk.attname] = key
    state[REFERENCE] = (owner, relation)
    return obj


def complete(obj: Model) -> None:
    """Make ``obj``, whose every field value is now loaded, an instance of its model again."""
    obj.__dict__.pop(REFERENCE, None)
    model = obj._meta.model
    if type(obj) is not model:
        obj.__class__ = model
