"""The raw baselines' hand-written SQL, one text for every backend (stdlib only).

Written with PostgreSQL's numbered parameters (``$1``); :func:`positional` rewrites them for
aiomysql (``%s``) and aiosqlite (``?``). ``IN``-lists of keys are PostgreSQL's ``= ANY($1)``
there and an expanded ``IN (%s, %s, ...)`` elsewhere (:func:`in_list`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

BOOK = "SELECT id, title, author_id, pages, price, published FROM peer_books"
GET = f"{BOOK} WHERE id = $1"
FILTER20 = f"{BOOK} WHERE id > $1 ORDER BY id LIMIT 20"
FILTER1000 = f"{BOOK} WHERE id > $1 ORDER BY id LIMIT 1000"
WIDE_COLUMNS = ", ".join(
    ["id"]
    + [f"i{k:02}" for k in range(1, 11)]
    + [f"s{k:02}" for k in range(1, 11)]
    + [f"f{k:02}" for k in range(1, 10)]
)
WIDE1000 = f"SELECT {WIDE_COLUMNS} FROM peer_wide WHERE id > $1 ORDER BY id LIMIT 1000"
#: A LEFT JOIN (the same rows: author_id is NOT NULL), as the ORMs write it: with an inner join
#: MariaDB 10.11 reads the 1,000 authors first and sorts the 10,000 joined rows in a temporary
#: table, three times slower than walking the first 500 books by key.
JOIN = (
    "SELECT b.id, b.title, b.author_id, b.pages, b.price, b.published, a.id, a.name "
    "FROM peer_books b LEFT JOIN peer_authors a ON a.id = b.author_id ORDER BY b.id LIMIT 500"
)
AUTHORS = "SELECT id, name FROM peer_authors ORDER BY id LIMIT 100"
BOOKS100 = f"{BOOK} ORDER BY id LIMIT 100"
#: ``{keys}``: ``ANY($1)`` on PostgreSQL, an expanded list elsewhere.
BOOKS_OF = f"{BOOK} WHERE author_id IN {{keys}}"
TAGS_OF = (
    "SELECT t.id, t.name, x.book_id FROM peer_tags t "
    "JOIN peer_books_tags x ON x.tag_id = t.id WHERE x.book_id IN {keys}"
)
INSERT = "INSERT INTO peer_sink (title, pages, price) VALUES ($1, $2, $3)"
INSERT_RETURNING = f"{INSERT} RETURNING id"
UPDATE = "UPDATE peer_books SET pages = $1 WHERE id > $2 AND id <= $3"
UPDATE_ONE = "UPDATE peer_books SET pages = $1 WHERE id = $2"
DELETE = "DELETE FROM peer_trash WHERE id > $1 AND id <= $2"


def positional(sql: str, mark: str) -> str:
    """``sql`` with every ``$n`` replaced by ``mark`` (``%s`` or ``?``)."""
    return re.sub(r"\$\d+", mark, sql)


def any_array(sql: str) -> str:
    """``sql``'s ``IN {keys}`` as PostgreSQL's ``= ANY($1)`` (one array parameter)."""
    return sql.replace(" IN {keys}", " = ANY($1)")


def in_list(sql: str, mark: str, count: int) -> str:
    """``sql``'s ``{keys}`` as ``(mark, mark, ...)`` with ``count`` marks."""
    return positional(sql, mark).format(keys="(" + ", ".join([mark] * count) + ")")


def multi_row_insert(mark: str, count: int) -> str:
    """One ``INSERT ... VALUES (...), (...) RETURNING id`` of ``count`` rows."""
    row = f"({mark}, {mark}, {mark})"
    return (
        "INSERT INTO peer_sink (title, pages, price) VALUES "
        + ", ".join([row] * count)
        + " RETURNING id"
    )


def group(rows: Sequence[Sequence[object]], keys: Sequence[object], at: int) -> dict[object, list]:
    """``rows`` grouped under ``keys`` by their column ``at`` (a prefetch's attaching step)."""
    out: dict[object, list] = {k: [] for k in keys}
    for row in rows:
        out[row[at]].append(row)
    return out
