"""docs/testing.md's five-minute set-up, as written: a new project made of the page's snippets,
run with plain ``pytest`` (no ``python -m``, which would put the project on ``sys.path`` by
itself), passes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "testing.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def setup_section() -> str:
    text = PAGE.read_text()
    start = text.index("## Five-minute setup")
    return text[start : text.index("\n## ", start + 1)]


def write_project(directory: Path) -> None:
    """The files the section shows: the layout (empty files), pyproject.toml, and each Python
    block whose first comment names its file."""
    blocks = FENCE.findall(setup_section())
    layout = next(body for language, body in blocks if language == "text")  # the first: files
    for name in layout.split():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).touch()
    [toml] = [body for language, body in blocks if language == "toml"]
    (directory / "pyproject.toml").write_text(toml)
    for language, body in blocks:
        lines = [line for line in body.splitlines() if line != "# doc: no-run"]
        if language == "python" and lines and lines[0].startswith("# "):
            name = lines[0][2:]
            assert name in layout.split(), f"{name} is not in the layout the page shows"
            (directory / name).write_text(body)


def test_five_minute_setup_runs_as_written(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    write_project(project)
    assert (project / "myapp" / "models.py").read_text().strip()
    assert (project / "tests" / "test_authors.py").read_text().strip()
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"PYTHONPATH", "DATABASE_URL", "ASYNCDB_TEST_URL", "PYTEST_ADDOPTS"}
    }
    env["ASYNCDB_TEST_URL"] = f"sqlite:///{tmp_path / 'app_test.db'}"
    pytest_script = Path(sys.executable).parent / "pytest"  # `pytest`, as the page runs it
    done = subprocess.run(
        [str(pytest_script), "-p", "no:cacheprovider"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout
    assert "asyncdb: sqlite:///" in done.stdout  # the header line the page shows
