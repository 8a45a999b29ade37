"""``iterate()`` streams: its memory does not grow with the number of rows (issue 2: "memory
stays bounded on a million rows"). Peak traced memory over N rows must stay close to the peak
over N/10; fetching everything at once grows with N."""

from __future__ import annotations

import gc
import tracemalloc

from asyncdb import Database


def numbers(backend: str, n: int) -> str:
    if backend == "postgresql":
        return f"SELECT g AS n, repeat('x', 50) AS pad FROM generate_series(1, {n}) AS g"
    if backend == "mysql":
        # MariaDB's SEQUENCE engine: seq_1_to_N is a virtual table of 1..N.
        return f"SELECT seq AS n, repeat('x', 50) AS pad FROM seq_1_to_{n}"
    return (
        f"WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < {n}) "
        "SELECT n, printf('%.50c', 'x') AS pad FROM c"
    )


async def peak_while_iterating(db: Database, n: int) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        total = 0
        async for row in db.iterate(numbers(db.features.backend, n), chunk_size=1000):
            total += row.n
        assert total == n * (n + 1) // 2
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_iterate_memory_does_not_grow_with_the_rows(db: Database) -> None:
    # aiomysql parses rows in pure Python (slow under tracemalloc): fewer rows, same ratio.
    n = 60_000 if db.features.backend == "mysql" else 200_000
    small = await peak_while_iterating(db, n // 10)
    large = await peak_while_iterating(db, n)
    assert large < small * 1.5 + 512 * 1024, (small, large)
    # For contrast, fetching them all at once is proportional to the rows.
    gc.collect()
    tracemalloc.start()
    try:
        rows = await db.fetch_all(numbers(db.features.backend, n))
        everything = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(rows) == n
    assert everything > large * 4, (large, everything)
