"""The one cache type and the one code generator: bounds, eviction, clearing, tracebacks."""

from __future__ import annotations

import gc
import linecache
import threading
import traceback
from pathlib import Path

import pytest

from asyncdb import Database
from asyncdb.cache import BoundedCache, clear_caches
from asyncdb.codegen import generate


def test_a_full_cache_drops_its_oldest_entry() -> None:
    cache: BoundedCache[str, int] = BoundedCache("test.fifo", 3)
    for i, key in enumerate("abcd"):
        assert cache.put(key, i) == i
    assert len(cache) == 3
    assert "a" not in cache and cache.get("a") is None
    assert [cache.get(k) for k in "bcd"] == [1, 2, 3]
    # replacing an entry of a full cache drops nothing
    cache.put("b", 10)
    assert [cache.get(k) for k in "bcd"] == [10, 2, 3]
    cache.put("e", 4)  # then the oldest insertion goes: "b" (replaced, not moved)
    assert "b" not in cache and "c" in cache


def test_hits_are_the_dicts_own_get() -> None:
    cache: BoundedCache[str, int] = BoundedCache("test.get", 1)
    assert type(cache.get).__name__ == "builtin_function_or_method"
    assert cache.get("missing") is None


def test_a_cache_needs_room() -> None:
    with pytest.raises(ValueError, match="at least one entry"):
        BoundedCache("test.empty", 0)


def test_many_keys_stay_within_the_bound() -> None:
    cache: BoundedCache[int, int] = BoundedCache("test.many", 64)
    for i in range(10_000):
        cache.put(i, i)
        assert len(cache) <= 64
    assert sorted(k for k in range(10_000) if k in cache) == list(range(10_000 - 64, 10_000))


def test_threads_sharing_a_cache_keep_it_bounded() -> None:
    cache: BoundedCache[tuple[int, int], int] = BoundedCache("test.threads", 32)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(5_000):
                cache.put((n, i), i)
                cache.get((n, i - 1))
        except BaseException as exc:  # pragma: no cover - the failure being tested for
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(cache) <= 32


def test_clear_caches_by_name_prefix() -> None:
    mine: BoundedCache[str, int] = BoundedCache("test.prefix.mine", 4)
    other: BoundedCache[str, int] = BoundedCache("test.other", 4)
    mine.put("a", 1)
    other.put("a", 1)
    clear_caches("test.prefix.")
    assert len(mine) == 0 and len(other) == 1
    assert "test.other 1/4" in repr(other)


def test_generated_code_shows_its_lines_in_tracebacks() -> None:
    namespace: dict[str, object] = {}
    source = "def half(value):\n    quotient = value / 0\n    return quotient\n"
    half = generate("half", source, namespace, label="test half")
    with pytest.raises(ZeroDivisionError) as info:
        half(1)
    text = "".join(traceback.format_exception(info.value))
    assert "<test half #" in text
    assert "quotient = value / 0" in text
    filename = half.__code__.co_filename
    assert linecache.getline(filename, 2).strip() == "quotient = value / 0"
    # each function its own file name: no function depends on another's line layout
    other = generate("half", source, {}, label="test half")
    assert other.__code__.co_filename != filename
    # the source goes with the function
    del half, other, namespace, info
    gc.collect()
    assert filename not in linecache.cache


async def test_result_converters_are_generated_readably(tmp_path: Path) -> None:
    # SQLite's DATE result processor is generated code: a bad stored value fails inside it,
    # and the traceback shows the generated line
    async with Database(f"sqlite:///{tmp_path / 'conv.db'}") as db:
        await db.execute("CREATE TABLE t (d DATE)")
        await db.execute("INSERT INTO t VALUES ('not a date')")
        import sqlalchemy as sa

        table = sa.table("t", sa.column("d", sa.Date()))
        with pytest.raises(ValueError) as info:
            await db.fetch_all(sa.select(table.c.d))
        text = "".join(traceback.format_exception(info.value))
        assert "<asyncdb result processors: rows #" in text
        assert "for (v0, ) in records]" in text
