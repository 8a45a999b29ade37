"""``orm.schema``: pydantic models (request and response bodies) generated from ORM models.

pydantic is an optional dependency: importing ``orm`` never imports it; ``orm.schema`` does, and
says how to install it when it is missing. The work is done in ``orm.pydantic_schema``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from pydantic import BaseModel

    from orm.models import Model

__all__ = ["INSTALL_HINT", "schema"]

#: How to get pydantic with this package (the ``pydantic`` extra).
INSTALL_HINT = 'pip install "asyncdb[pydantic]"'


def schema(
    model: type[Model],
    *,
    mode: Literal["read", "create", "update"] = "read",
    include: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    relations: Mapping[str, type[BaseModel]] | None = None,
    name: str | None = None,
) -> type[BaseModel]:
    """Return a pydantic model (v2) for ``model``'s instances, for request and response bodies.

    ``mode`` picks the fields and which of them are required:

    - ``"read"`` (a response body): every column, by attribute name (``author_id`` for a
      foreign key ``author``), all required; nullable ones may be ``None``.
    - ``"create"`` (a request body that creates a row): the columns a client provides. The
      automatic primary key and ``DateTime(auto_now=/auto_now_add=)`` fields are left out;
      fields with a ``default`` (or ``null=True``, whose default is ``None``) are optional
      and get the field's default.
    - ``"update"`` (a partial update, e.g. PATCH): the same columns as ``"create"`` less the
      primary key, every one optional. Read what the client sent with
      ``body.model_dump(exclude_unset=True)``; an explicit ``null`` for a field that is not
      ``null=True`` is refused.

    ``include`` keeps only the named fields (a name asked for explicitly is kept in any mode,
    the automatic key included); ``exclude`` drops names. Unknown names raise
    ``orm.FieldError``.

    Relations appear only when asked: ``relations={"author": AuthorOut, "tags": TagOut}`` maps a
    relation name (forward, reverse or many-to-many) to the schema of its target (one made by
    ``orm.schema`` for that model, or any pydantic model). A single relation becomes a nested
    object (``AuthorOut``, or ``AuthorOut | None`` when it may be empty), a multi-valued one a
    list. Only ``"read"`` schemas nest relations; a request body names a foreign key by its
    column (``author_id``).

    Field types carry the model's rules: ``max_length``, integer ranges, ``max_digits`` and
    ``decimal_places``, ``choices`` (a ``Literal``), enums, UUIDs, aware datetimes for
    ``DateTime``, naive times for ``Time``, JSON values, bytes (base64 in JSON).

    Validating an ORM instance (``Schema.model_validate(book)``, or a FastAPI return value)
    reads its loaded values and performs no I/O. A field or relation the schema needs that was
    not loaded raises ``orm.FieldNotLoaded`` / ``orm.RelationNotLoaded`` naming the fix
    (``select_related(...)`` / ``prefetch_related(...)``); relations the schema does not name
    are never touched.

    The class is named ``name`` (default: ``BookRead``, ``BookCreate``, ``BookUpdate``), which is
    also its title in an OpenAPI document. Subclass it to add fields (a subclass field named
    after a relation or attribute of the model is read from the instance too), validators or
    configuration.

    Raises ``ImportError`` when pydantic 2 is not installed (``pip install
    "asyncdb[pydantic]"``).
    """
    try:
        import pydantic
    except ImportError as exc:
        raise ImportError(f"orm.schema needs pydantic 2: {INSTALL_HINT}") from exc
    if not pydantic.VERSION.startswith("2."):
        raise ImportError(
            f"orm.schema needs pydantic 2, found pydantic {pydantic.VERSION}: {INSTALL_HINT}"
        )
    from orm.pydantic_schema import build_schema

    return build_schema(
        model,
        mode=mode,
        include=include,
        exclude=exclude,
        relations={} if relations is None else relations,
        name=name,
    )
