"""Benchmarks for asyncdb (and the ORM, when ``benchmarks/bench_orm.py`` exists).

Run with ``make bench`` or ``python -m benchmarks`` (``--help`` for options). Every contender of
a workload is measured in the same run, interleaved round by round; tables print as Markdown.
"""
