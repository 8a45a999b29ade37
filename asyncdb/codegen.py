"""Generated functions that read like written ones in a traceback.

asyncdb and the orm generate a few functions per statement or model (result converters,
hydrators, a model's ``__init__``), as ``dataclasses`` does: one unpacking of a row and one
store per value runs far faster than a loop over column descriptions. :func:`generate` is the
one place such code is compiled. It gives each function its own source and file name and
registers the source with :mod:`linecache`, so a traceback through it shows the line that
failed; the entry goes when the function is garbage-collected.
"""

from __future__ import annotations

import itertools
import linecache
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["generate"]

_serial = itertools.count(1)


def generate(name: str, source: str, namespace: dict[str, Any], *, label: str) -> Any:
    """Compile ``source``, which defines the one function ``name``, and return that function.

    ``namespace`` holds the globals the code reads (it is used as is, and gets the function).
    ``label`` says what the code is for (``"orm hydrator Book.many"``); it names the source in
    tracebacks. Callers build ``source`` from identifiers they checked and ``repr()``
    literals only: no user input reaches it as code.
    """
    filename = f"<{label} #{next(_serial)}>"
    exec(compile(source, filename, "exec"), namespace)
    function: Callable[..., Any] = namespace[name]
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    weakref.finalize(function, linecache.cache.pop, filename, None)
    return function
