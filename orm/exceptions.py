"""The exceptions the ORM raises for misuse and for queries that match the wrong number of rows.

Database failures are not wrapped: they surface as ``asyncdb`` errors (``IntegrityError`` ...).
"""

from __future__ import annotations

__all__ = [
    "FieldError",
    "FieldNotLoaded",
    "MultipleMatches",
    "NoMatch",
    "ORMError",
    "RelationNotLoaded",
    "ValidationError",
]


class ORMError(Exception):
    """Base class of every error the ORM itself raises."""


class NoMatch(ORMError):
    """``get()`` (or ``load()``) found no row."""


class MultipleMatches(ORMError):
    """``get()`` found more than one row."""


class FieldError(ORMError):
    """An unknown field, lookup or relation name was used; the message lists the valid names."""


class ValidationError(ORMError, ValueError):
    """A value does not fit its field; raised before any SQL is sent.

    ``model``, ``field`` and ``problem`` hold the parts of the message.
    """

    def __init__(self, model: str, field: str, problem: str) -> None:
        self.model = model
        self.field = field
        self.problem = problem
        super().__init__(f"{model}.{field}: {problem}")


class RelationNotLoaded(ORMError, AttributeError):
    """A relation was touched that was not loaded; the ORM never queries implicitly."""


class FieldNotLoaded(ORMError, AttributeError):
    """A field left out by ``only()``/``defer()`` was read; the ORM never queries implicitly."""
