"""``Model.objects``: a descriptor giving a fresh, typed ``QuerySet`` for the model class."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from orm.models import Model
    from orm.queryset import QuerySet

__all__ = ["Manager"]

M = TypeVar("M", bound="Model")


class Manager:
    """``Book.objects`` is a ``QuerySet[Book]`` over all rows; it is only reachable on classes."""

    def __get__(self, instance: Any, owner: type[M]) -> QuerySet[M]:
        if instance is not None:
            raise AttributeError(
                f"objects is reachable only from the class: use {owner.__name__}.objects"
            )
        # Querysets are immutable, so one "all rows" queryset per model serves every access.
        queryset: QuerySet[M] | None = owner.__dict__.get("_orm_all")
        if queryset is None:
            from orm.queryset import QuerySet

            queryset = QuerySet(owner)
            if "_meta" in owner.__dict__:  # a concrete model (not Model or an abstract base)
                type.__setattr__(owner, "_orm_all", queryset)
        return queryset
