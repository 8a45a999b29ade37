"""The exception tree every database failure is mapped into.

Each backend translates its driver's exceptions in exactly one place and chains the original
(``raise IntegrityError(...) from exc``), so user code never needs to know which driver ran.
"""

from __future__ import annotations

__all__ = [
    "DataError",
    "DatabaseError",
    "IntegrityError",
    "InterfaceError",
    "NotSupportedError",
    "OperationalError",
    "ParameterError",
    "PoolTimeout",
    "ProgrammingError",
    "QueryTimeout",
]


class DatabaseError(Exception):
    """Base of every error the library raises for a database failure.

    ``code`` is the server's error code where there is one (PostgreSQL SQLSTATE, MySQL error
    number); ``connection_lost`` is true when the connection can no longer be used;
    ``retry_safe`` is true when the failure is known to have happened before the statement ran
    (the server had already closed the session), so running it again cannot repeat it.
    """

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        connection_lost: bool = False,
        retry_safe: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.connection_lost = connection_lost
        self.retry_safe = retry_safe


class InterfaceError(DatabaseError):
    """The library was used in a way its state does not allow (e.g. commit twice)."""


class OperationalError(DatabaseError):
    """The database could not be reached, or the connection was lost."""


class PoolTimeout(OperationalError):
    """No connection became available within ``acquire_timeout`` seconds."""


class QueryTimeout(OperationalError):
    """A statement did not finish within its ``timeout``; it was cancelled on the server."""


class IntegrityError(DatabaseError):
    """A constraint was violated: unique, foreign key, not null or check."""


class ProgrammingError(DatabaseError):
    """The SQL is wrong: syntax error, unknown table or column, bad parameters."""


class ParameterError(ProgrammingError, ValueError):
    """The values given do not match the statement's ``:name`` parameters."""


class DataError(DatabaseError):
    """A value does not fit its column (out of range, invalid text for the type)."""


class NotSupportedError(DatabaseError):
    """The backend does not support what was asked (see ``Database.features``)."""
