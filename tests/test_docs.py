"""Every ```python block in docs/*.md runs, so the documentation cannot rot.

The blocks of one page run in order, in one namespace, with top-level ``await`` allowed, in a
fresh temporary directory (so ``sqlite:///example.db`` in a page creates a throwaway file).
A block whose first line is ``# doc: no-run`` is shown but not run (e.g. a server-only snippet).
A block that calls ``asyncio.run`` is a whole script: it runs in a subprocess, as when pasted.
The README's quickstart is checked the same way.
"""

from __future__ import annotations

import ast
import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
PAGES = [*sorted(DOCS.glob("*.md")), DOCS.parent / "README.md"]


def _blocks(page: Path) -> list[str]:
    return [
        b for b in BLOCK.findall(page.read_text()) if not b.lstrip().startswith("# doc: no-run")
    ]


@pytest.mark.parametrize("page", [p for p in PAGES if _blocks(p)], ids=lambda p: p.name)
def test_doc_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'doc.db'}")
    namespace: dict[str, Any] = {"__name__": f"docs_{page.stem}"}

    async def run_all() -> None:
        for index, source in enumerate(_blocks(page), 1):
            if "asyncio.run(" in source:
                continue  # a whole script: run below, in a subprocess
            code = compile(
                source,
                f"{page.name}[block {index}]",
                "exec",
                flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
            )
            result = eval(code, namespace)
            if asyncio.iscoroutine(result):
                await result

    asyncio.run(run_all())
    for index, source in enumerate(_blocks(page), 1):
        if "asyncio.run(" in source:
            env = {**os.environ, "PYTHONPATH": str(DOCS.parent)}
            done = subprocess.run(
                [sys.executable, "-c", source], capture_output=True, text=True, env=env
            )
            assert done.returncode == 0, f"{page.name}[block {index}]:\n{done.stderr}"
    assert os.getcwd() == str(tmp_path)
