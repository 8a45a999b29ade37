from __future__ import annotations

import pickle

import pytest

from asyncdb import Row
from asyncdb.row import row_class


def test_row_access() -> None:
    row = row_class(("id", "name", "count"))((1, "ann", 3))
    assert isinstance(row, Row)
    assert row[0] == 1 and row["name"] == "ann" and row.name == "ann"
    assert row.count == 3  # a column named like a tuple method wins
    assert len(row) == 3
    assert dict(row) == {"id": 1, "name": "ann", "count": 3}
    assert row.keys() == ["id", "name", "count"]
    assert list(row) == [1, "ann", 3]
    assert row == (1, "ann", 3)
    assert "name" in row and "nope" not in row
    assert repr(row) == "Row(id=1, name='ann', count=3)"
    assert pickle.loads(pickle.dumps(row)) == row


def test_row_errors_name_the_columns() -> None:
    row = row_class(("id", "name"))((1, "x"))
    with pytest.raises(KeyError, match="no column 'nope'.*columns: id, name"):
        row["nope"]
    with pytest.raises(AttributeError, match="no column 'nope'.*columns: id, name"):
        _ = row.nope


def test_duplicate_and_reserved_names() -> None:
    row = row_class(("id", "id", "keys"))((1, 2, 3))
    assert row["id"] == 1 and row[1] == 2
    assert row["keys"] == 3 and callable(row.keys)
