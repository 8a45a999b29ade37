"""The bookshop as a Starlette application: ``uvicorn examples.starlette_app.app:app``.

``DATABASE_URL`` picks the database (default: ``bookshop.db`` in the working directory); pool
options go in its query string (``...?max_size=20``). ``python -m examples.starlette_app``
creates the tables and serves.

The pattern: the ``Database`` connects in the lifespan and the handlers use the ORM directly.
There is no per-request session or connection. Each query borrows a pooled connection while its
statement runs and gives it back before returning, so a request that is waiting for anything
else (its body, another service, a slow client) holds no connection. Only a ``transaction()``
block keeps one connection, for that block.

Endpoints::

    GET  /books?limit=&offset=  books with their author and tags (two queries per page)
    GET  /books/{id}            one book, 404 when there is none
    POST /books                 {"title", "year", "author_id", "tags": [names]} -> 201, 422, 409
    POST /authors               {"name", "first_book": {"title", "year"}} -> 201, 422, 409:
                                the author and the book are written in one transaction

A 422 body has FastAPI's shape, so clients of either example see one format:
``{"detail": [{"loc": ["body", "title"], "msg": "...", "type": "value_error"}]}``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import orm
from asyncdb import Database, IntegrityError

from .models import Author, Book, Tag, models

__all__ = ["DEFAULT_DATABASE_URL", "app", "create_app"]

DEFAULT_DATABASE_URL = "sqlite:///bookshop.db"


# -- input errors ------------------------------------------------------------------------------


class InvalidInput(Exception):
    """Bad input from the client, answered with 422 naming where it is (``loc``)."""

    def __init__(self, loc: tuple[str | int, ...], msg: str) -> None:
        super().__init__(msg)
        self.loc = loc
        self.msg = msg


def unprocessable(loc: tuple[str | int, ...], msg: str) -> JSONResponse:
    return JSONResponse(
        {"detail": [{"loc": list(loc), "msg": msg, "type": "value_error"}]}, status_code=422
    )


async def invalid_input(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidInput)
    return unprocessable(exc.loc, exc.msg)


async def invalid_value(request: Request, exc: Exception) -> Response:
    """A value the ORM refused (wrong type, too long, null): the field is a top-level key."""
    assert isinstance(exc, orm.ValidationError)
    return unprocessable(("body", exc.field), exc.problem)


@contextlib.contextmanager
def values_under(*loc: str) -> Iterator[None]:
    """Report a value the ORM refuses in the block as bad input under ``loc`` (a nested key)."""
    try:
        yield
    except orm.ValidationError as exc:
        raise InvalidInput(("body", *loc, exc.field), exc.problem) from exc


async def json_object(request: Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:  # not JSON, or not UTF-8
        raise InvalidInput(("body",), "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput(("body",), "expected a JSON object")
    return data


def required(data: dict[str, Any], name: str, *loc: str) -> Any:
    if name not in data:
        raise InvalidInput(("body", *loc, name), "field required")
    return data[name]


def query_int(request: Request, name: str, *, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(("query", name), f"expected an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise InvalidInput(("query", name), f"must be between {low} and {high}")
    return value


# -- queries -----------------------------------------------------------------------------------


def books_with_relations() -> orm.QuerySet[Book]:
    """Books with their author (joined) and tags (one more query for the whole page)."""
    return Book.objects.select_related("author").prefetch_related("tags")


def book_json(book: Book) -> dict[str, Any]:
    return {
        "id": book.id,
        "title": book.title,
        "year": book.year,
        "author": {"id": book.author.id, "name": book.author.name},
        "tags": sorted(tag.name for tag in book.tags),
    }


async def tags_named(names: Any) -> list[Tag]:
    """The tags with these names, created when missing."""
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise InvalidInput(("body", "tags"), "expected a list of tag names")
    tags = []
    for index, name in enumerate(names):
        try:
            tag, _ = await Tag.objects.get_or_create(name=name)
        except orm.ValidationError as exc:
            raise InvalidInput(("body", "tags", index), exc.problem) from exc
        tags.append(tag)
    return tags


# -- endpoints ---------------------------------------------------------------------------------


async def list_books(request: Request) -> JSONResponse:
    limit = query_int(request, "limit", default=50, low=1, high=100)
    offset = query_int(request, "offset", default=0, low=0, high=2**31 - 1)
    books = await books_with_relations().order_by("id")[offset : offset + limit]
    return JSONResponse([book_json(book) for book in books])


async def get_book(request: Request) -> JSONResponse:
    book_id: int = request.path_params["book_id"]
    try:
        book = await books_with_relations().get(id=book_id)
    except (orm.NoMatch, orm.ValidationError):  # no such row; an id out of range has none either
        return JSONResponse({"detail": f"no book with id {book_id}"}, status_code=404)
    return JSONResponse(book_json(book))


async def create_book(request: Request) -> JSONResponse:
    data = await json_object(request)
    title = required(data, "title")
    author_id = required(data, "author_id")
    if not isinstance(author_id, int) or isinstance(author_id, bool):
        raise InvalidInput(("body", "author_id"), "expected the id (an integer) of an author")
    try:
        author = await Author.objects.get(id=author_id)
    except (orm.NoMatch, orm.ValidationError):
        raise InvalidInput(("body", "author_id"), f"no author with id {author_id}") from None
    try:
        # The book, its new tags and its links commit together or not at all.
        async with models.get_database().transaction():
            book = await Book.objects.create(title=title, year=data.get("year"), author=author)
            await book.tags.add(*await tags_named(data.get("tags", [])))
    except IntegrityError:
        return JSONResponse({"detail": f"a book titled {title!r} exists"}, status_code=409)
    book = await books_with_relations().get(id=book.id)
    return JSONResponse(book_json(book), status_code=201)


async def create_author(request: Request) -> JSONResponse:
    """Create an author and their first book atomically: both rows, or neither."""
    data = await json_object(request)
    name = required(data, "name")
    first_book = required(data, "first_book")
    if not isinstance(first_book, dict):
        raise InvalidInput(("body", "first_book"), "expected an object with a title and a year")
    title = required(first_book, "title", "first_book")
    try:
        async with models.get_database().transaction():
            author = await Author.objects.create(name=name)
            with values_under("first_book"):
                book = await Book.objects.create(
                    title=title, year=first_book.get("year"), author=author
                )
    except IntegrityError:
        # Raised by either INSERT; the transaction rolled back, so the author is gone too.
        detail = f"an author named {name!r} or a book titled {title!r} exists; nothing was saved"
        return JSONResponse({"detail": detail}, status_code=409)
    return JSONResponse(
        {"id": author.id, "name": author.name, "books": [{"id": book.id, "title": book.title}]},
        status_code=201,
    )


# -- the application ---------------------------------------------------------------------------


def create_app(database_url: str | None = None) -> Starlette:
    """The bookshop on ``database_url`` (default: ``$DATABASE_URL``, else a SQLite file)."""
    database = Database(database_url or os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        models.database = database  # the models query this Database from now on
        async with database:  # connect; disconnect (closing the pool) at shutdown
            yield

    return Starlette(
        routes=[
            Route("/books", list_books, methods=["GET"]),
            Route("/books", create_book, methods=["POST"]),
            Route("/books/{book_id:int}", get_book, methods=["GET"]),
            Route("/authors", create_author, methods=["POST"]),
        ],
        exception_handlers={InvalidInput: invalid_input, orm.ValidationError: invalid_value},
        lifespan=lifespan,
    )


app = create_app()
