from __future__ import annotations

import asyncdb


def test_public_api_is_curated() -> None:
    contract = {
        "Database",
        "Row",
        "DatabaseError",
        "IntegrityError",
        "OperationalError",
        "PoolTimeout",
    }
    assert contract <= set(asyncdb.__all__)
    for name in asyncdb.__all__:
        assert hasattr(asyncdb, name), name
    assert sorted(asyncdb.__all__) == sorted(set(asyncdb.__all__))


def test_exception_tree() -> None:
    for name in ("IntegrityError", "OperationalError", "ProgrammingError", "DataError"):
        assert issubclass(getattr(asyncdb, name), asyncdb.DatabaseError)
    assert issubclass(asyncdb.PoolTimeout, asyncdb.OperationalError)
    assert issubclass(asyncdb.QueryTimeout, asyncdb.OperationalError)
    assert issubclass(asyncdb.ParameterError, ValueError)
