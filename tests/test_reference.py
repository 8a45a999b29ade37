"""The API reference (docs/reference.md, built by mkdocstrings) is complete and clean.

The site is built as ``make docs`` builds it; the reference page must have an entry for every
name in each package's ``__all__`` and for every public member of those classes — documented
or not, so nothing disappears because it lacks a docstring — and no raw Sphinx role.
"""

from __future__ import annotations

import functools
import html
import importlib
import re
import subprocess
import sys
from pathlib import Path

import griffe
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("asyncdb", "orm", "migrations", "pytest_asyncdb")
ROLE = re.compile(r":(?:class|func|meth|attr|exc|mod|data|obj|ref):")


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> str:
    site = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return (site / "reference" / "index.html").read_text()


@pytest.fixture(scope="module")
def anchors(reference: str) -> set[str]:
    return set(re.findall(r'id="([A-Za-z_][\w.]*)"', reference))


@functools.cache
def loaded(package: str) -> griffe.Object:
    """The package as mkdocstrings sees it (griffe, from the source)."""
    return griffe.load(package, search_paths=[str(ROOT)], resolve_aliases=True)


def public_names() -> list[tuple[str, str]]:
    return [
        (package, name) for package in PACKAGES for name in importlib.import_module(package).__all__
    ]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_has_an_entry(package: str, anchors: set[str]) -> None:
    assert package in anchors or any(a.startswith(f"{package}.") for a in anchors)


@pytest.mark.parametrize(
    ("package", "name"), [pytest.param(*pair, id=".".join(pair)) for pair in public_names()]
)
def test_every_public_name_and_member_is_in_the_reference(
    package: str, name: str, anchors: set[str]
) -> None:
    assert f"{package}.{name}" in anchors, f"{package}.{name} is not in docs/reference.md"
    target = loaded(package)[name].final_target
    if target.is_class:
        members = [m for m in target.members if not m.startswith("_")]
        missing = [m for m in members if f"{package}.{name}.{m}" not in anchors]
        assert not missing, f"members of {package}.{name} missing from the reference: {missing}"


def test_no_raw_sphinx_roles(reference: str) -> None:
    text = html.unescape(re.sub(r"<[^>]+>", "", reference))
    assert not ROLE.findall(text), [
        text[m.start() - 40 : m.end() + 40] for m in ROLE.finditer(text)
    ]


def test_signatures_carry_types(reference: str) -> None:
    def signature(anchor: str) -> str:
        start = reference.index(f'id="{anchor}"')
        chunk = reference[start : reference.index("</code></pre>", start)]
        return html.unescape(re.sub(r"<[^>]+>", "", chunk))

    assert "-> int" in signature("orm.QuerySet.count")
    assert "query: Query" in signature("asyncdb.Database.fetch_all")
    assert 'mode: Literal["read", "create", "update"]' in signature("orm.schema")


def test_internal_helpers_are_private(anchors: set[str]) -> None:
    internal = {"defer", "resolve_pending", "register", "table_for"}
    assert not {f"orm.ModelRegistry.{name}" for name in internal} & anchors
