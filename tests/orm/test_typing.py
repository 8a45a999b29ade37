"""Type checkers understand models: mypy accepts correct code and reports a wrong type."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api")

REPO = Path(__file__).resolve().parents[2]

HEADER = """
import datetime as dt
import orm

models = orm.ModelRegistry()


class Author(orm.Model):
    registry = models
    name = orm.String(max_length=100)  # unannotated: attribute types still come from the field


class Book(orm.Model):
    registry = models
    id: orm.Field[int] = orm.Integer(primary_key=True)
    title: orm.Field[str] = orm.String(max_length=200)
    subtitle: orm.Field[str | None] = orm.String(max_length=200, null=True)
    published: orm.Field[dt.datetime] = orm.DateTime(auto_now_add=True)


class Review(orm.Model):
    registry = models
    book: orm.ForeignKey[Book] = orm.ForeignKey(Book, related_name="reviews")
    editor: orm.ForeignKey[Author | None] = orm.ForeignKey(Author, null=True)
    fans = orm.ManyToMany(Author, related_name="liked")
"""

CORRECT = """
async def use() -> None:
    book = Book(title="Dune", subtitle=None)
    title: str = book.title
    subtitle: str | None = book.subtitle
    when: dt.datetime = book.published
    key: int = book.id
    book.title = "Dune Messiah"
    got: Book = await Book.objects.get(id=1)
    many: list[Book] = await Book.objects.filter(title__icontains="dune").order_by("-id")
    listed: list[Book] = await Book.objects.all()
    first: Book | None = await Book.objects.first()
    made: Book = await Book.objects.create(title="x")
    count: int = await Book.objects.count()
    rows: list[dict[str, object]] = await Book.objects.values("title")
    field: orm.Field[str] = Book.title
    author = await Author.objects.get(name="Ann")
    name: str = author.name
    async for streamed in Book.objects.filter(id__gt=1):
        assert isinstance(streamed.title, str)
    review = Review(book=got, editor=None)
    reviewed: Book = review.book
    editor: Author | None = review.editor
    fans: list[Author] = await review.fans.all()
    await review.fans.add(author)
    print(reviewed, editor, fans)
    print(title, subtitle, when, key, got, many, listed, first, made, count, rows, field, name)
"""

WRONG = """
async def use() -> None:
    Book(title=3)
    book = await Book.objects.get(id=1)
    number: int = book.title
    author: Author = await Book.objects.get(id=1)
    book.subtitle = 5
    Review(book=3)
"""


def run_mypy(tmp_path: Path, body: str) -> tuple[str, int]:
    sample = tmp_path / "sample.py"
    sample.write_text(textwrap.dedent(HEADER) + textwrap.dedent(body))
    stdout, stderr, status = mypy_api.run(
        [
            str(sample),
            "--strict",
            "--no-error-summary",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--python-executable",
            str(Path(__import__("sys").executable)),
        ]
    )
    return stdout + stderr, status


@pytest.fixture
def mypy_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYPYPATH", str(REPO))


@pytest.mark.usefixtures("mypy_path")
def test_correct_code_passes(tmp_path: Path) -> None:
    output, status = run_mypy(tmp_path, CORRECT)
    assert status == 0, output


@pytest.mark.usefixtures("mypy_path")
def test_wrong_types_are_reported(tmp_path: Path) -> None:
    output, status = run_mypy(tmp_path, WRONG)
    assert status == 1
    assert 'Argument "title" to "Book" has incompatible type "int"; expected "str"' in output
    assert 'expression has type "str", variable has type "int"' in output
    assert 'expression has type "Book", variable has type "Author"' in output
    assert 'expression has type "int", variable has type "str | None"' in output
    assert 'Argument "book" to "Review" has incompatible type "int"; expected "Book"' in output
