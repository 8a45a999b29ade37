"""orm: a small Django-like ORM on asyncdb, with no implicit I/O.

```python
import orm
models = orm.ModelRegistry(database=db)

class Book(orm.Model):
    registry = models
    title = orm.String(max_length=200)

await models.create_all()
book = await Book.objects.create(title="Dune")
books = await Book.objects.filter(title__icontains="dune").order_by("-id")
```
"""

from __future__ import annotations

from orm.constraints import CheckConstraint, Index, UniqueConstraint
from orm.exceptions import (
    FieldError,
    FieldNotLoaded,
    MultipleMatches,
    NoMatch,
    ORMError,
    RelationNotLoaded,
    ValidationError,
)
from orm.expressions import Avg, Count, F, Max, Min, OrderBy, Q, Sum, Value
from orm.fields import (
    JSON,
    UUID,
    BigInteger,
    Binary,
    Boolean,
    Date,
    DateTime,
    Decimal,
    Enum,
    Field,
    Float,
    Integer,
    SmallInteger,
    String,
    Text,
    Time,
)
from orm.manager import Manager
from orm.models import Model
from orm.options import clear_caches
from orm.prefetch import Prefetch
from orm.queryset import QuerySet
from orm.registry import ModelRegistry
from orm.related import RelatedManager
from orm.relations import CASCADE, RESTRICT, SET_NULL, ForeignKey, ManyToMany, OneToOne
from orm.schemas import schema

__all__ = [
    "CASCADE",
    "JSON",
    "RESTRICT",
    "SET_NULL",
    "UUID",
    "Avg",
    "BigInteger",
    "Binary",
    "Boolean",
    "CheckConstraint",
    "Count",
    "Date",
    "DateTime",
    "Decimal",
    "Enum",
    "F",
    "Field",
    "FieldError",
    "FieldNotLoaded",
    "Float",
    "ForeignKey",
    "Index",
    "Integer",
    "Manager",
    "ManyToMany",
    "Max",
    "Min",
    "Model",
    "ModelRegistry",
    "MultipleMatches",
    "NoMatch",
    "ORMError",
    "OneToOne",
    "OrderBy",
    "Prefetch",
    "Q",
    "QuerySet",
    "RelatedManager",
    "RelationNotLoaded",
    "SmallInteger",
    "String",
    "Sum",
    "Text",
    "Time",
    "UniqueConstraint",
    "ValidationError",
    "Value",
    "clear_caches",
    "schema",
]
