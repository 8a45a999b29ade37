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


def test_result_processors_apply_by_position_at_any_width() -> None:
    # Generated converters (one unpacking and one tuple display a row) give what applying each
    # processor to its column gives, for Rows, records and single rows, at any width.
    from asyncdb.compiler import CompiledQuery
    from asyncdb.row import make_row, make_rows, processed_records

    width = 300
    keys = tuple(f"c{i}" for i in range(width))
    procs = ((0, str), (7, lambda v: v * 2), (width - 1, lambda v: -v))
    cq = CompiledQuery("SELECT", (), (), keys, procs, None, False, ())
    records = [tuple(range(r, r + width)) for r in range(3)]
    expected = []
    for record in records:
        values = list(record)
        for i, proc in procs:
            values[i] = proc(values[i])
        expected.append(tuple(values))
    assert processed_records(cq, records) == expected
    rows = make_rows(cq, records, None)
    assert rows == expected and all(isinstance(r, Row) for r in rows)
    assert rows[1].c7 == 2 * (1 + 7) and rows[2][width - 1] == -(2 + width - 1)
    one = make_row(cq, records[0], None)
    assert one == expected[0] and one.c0 == "0"
    # rows of another width than the compiled columns are not processed (text fallbacks)
    narrow = [(1, 2)]
    assert processed_records(cq, narrow) is narrow
    assert make_rows(cq, narrow, ("a", "b")) == [(1, 2)]
