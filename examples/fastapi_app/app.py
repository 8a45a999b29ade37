"""The bookshop as a FastAPI application: ``uvicorn examples.fastapi_app.app:app``.

``DATABASE_URL`` picks the database (default: ``bookshop.db`` in the working directory); pool
options go in its query string (``...?max_size=20``). ``python -m examples.fastapi_app``
creates the tables and serves.

The pattern: the ``Database`` connects in the lifespan and the handlers use the ORM directly.
There is no per-request session and no dependency that hands one out. Each query borrows a
pooled connection while its statement runs and gives it back before returning, so a request
that is waiting for anything else (another service, a slow client) holds no connection. Only a
``transaction()`` block keeps one connection, for that block.

Endpoints::

    GET  /books?limit=&offset=  books with their author and tags (two queries per page)
    GET  /books/{id}            one book, 404 when there is none
    POST /books                 {"title", "year", "author_id", "tags": [names]} -> 201, 422, 409
    POST /authors               {"name", "first_book": {"title", "year"}} -> 201, 422, 409:
                                the author and the book are written in one transaction

The request and response bodies are pydantic models generated from the ORM models
(``orm.schema``), so the input is checked against the fields' rules (types, ``max_length``,
``null``) before the handler runs; the ORM checks again before any SQL (a tag name too long, in
a list of names). Both answer 422 in FastAPI's format:
``{"detail": [{"loc": ["body", "title"], "msg": "...", "type": "..."}]}``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from typing import Annotated

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import Field, field_validator

import orm
from asyncdb import Database, IntegrityError

from .models import Author, Book, Tag, models

__all__ = ["DEFAULT_DATABASE_URL", "app", "create_app"]

DEFAULT_DATABASE_URL = "sqlite:///bookshop.db"


# -- request and response bodies ---------------------------------------------------------------
#
# Generated from the models by orm.schema, so they follow the fields: max_length, null, defaults,
# types. A request body leaves out the automatic key; a response nests a relation only where it
# is named (and the handler loads it).

AuthorOut = orm.schema(Author, name="AuthorOut")  # id, name


class BookOut(orm.schema(Book, exclude=["author_id"], relations={"author": AuthorOut})):
    """A book with its author and the names of its tags."""

    tags: list[str]  # read from the prefetched Tag objects: their names

    @field_validator("tags", mode="before")
    @classmethod
    def tag_names(cls, tags: list[Tag | str]) -> list[str]:
        return sorted(tag.name if isinstance(tag, Tag) else tag for tag in tags)


class NewBook(orm.schema(Book, mode="create")):
    """title, year (optional), author_id, and tags by name (created when missing)."""

    tags: list[str] = Field(default_factory=list)


FirstBook = orm.schema(Book, mode="create", include=["title", "year"], name="FirstBook")


class NewAuthor(orm.schema(Author, mode="create")):
    """An author and their first book, created together."""

    first_book: FirstBook


BookSummary = orm.schema(Book, include=["id", "title"], name="BookSummary")
AuthorWithBooks = orm.schema(Author, relations={"books": BookSummary}, name="AuthorWithBooks")


# -- input errors ------------------------------------------------------------------------------


def invalid(loc: tuple[str | int, ...], msg: str) -> RequestValidationError:
    """Bad input found by the handler, answered like pydantic's own errors (422)."""
    return RequestValidationError([{"type": "value_error", "loc": loc, "msg": msg}])


async def invalid_value(request: Request, exc: Exception) -> JSONResponse:
    """A value the ORM refused (wrong type, too long, null): the field is a top-level key."""
    assert isinstance(exc, orm.ValidationError)
    error = {"type": "value_error", "loc": ["body", exc.field], "msg": exc.problem}
    return JSONResponse({"detail": [error]}, status_code=422)


@contextlib.contextmanager
def values_under(*loc: str) -> Iterator[None]:
    """Report a value the ORM refuses in the block as bad input under ``loc`` (a nested key)."""
    try:
        yield
    except orm.ValidationError as exc:
        raise invalid(("body", *loc, exc.field), exc.problem) from exc


# -- queries -----------------------------------------------------------------------------------


def books_with_relations() -> orm.QuerySet[Book]:
    """Books with their author (joined) and tags (one more query for the whole page)."""
    return Book.objects.select_related("author").prefetch_related("tags")


async def tags_named(names: list[str]) -> list[Tag]:
    """The tags with these names, created when missing."""
    tags = []
    for index, name in enumerate(names):
        try:
            tag, _ = await Tag.objects.get_or_create(name=name)
        except orm.ValidationError as exc:
            raise invalid(("body", "tags", index), exc.problem) from exc
        tags.append(tag)
    return tags


# -- endpoints ---------------------------------------------------------------------------------

router = APIRouter()


@router.get("/books")
async def list_books(
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> list[BookOut]:
    books = await books_with_relations().order_by("id")[offset : offset + limit]
    return [BookOut.model_validate(book) for book in books]


@router.get("/books/{book_id}")
async def get_book(book_id: int) -> BookOut:
    try:
        book = await books_with_relations().get(id=book_id)
    except (orm.NoMatch, orm.ValidationError):  # no such row; an id out of range has none either
        raise HTTPException(404, f"no book with id {book_id}") from None
    return BookOut.model_validate(book)


@router.post("/books", status_code=201)
async def create_book(new: NewBook) -> BookOut:
    try:
        author = await Author.objects.get(id=new.author_id)
    except (orm.NoMatch, orm.ValidationError):
        raise invalid(("body", "author_id"), f"no author with id {new.author_id}") from None
    try:
        # The book, its new tags and its links commit together or not at all.
        async with models.get_database().transaction():
            book = await Book.objects.create(title=new.title, year=new.year, author=author)
            await book.tags.add(*await tags_named(new.tags))
    except IntegrityError:
        raise HTTPException(409, f"a book titled {new.title!r} exists") from None
    return BookOut.model_validate(await books_with_relations().get(id=book.id))


@router.post("/authors", status_code=201)
async def create_author(new: NewAuthor) -> AuthorWithBooks:
    """Create an author and their first book atomically: both rows, or neither."""
    try:
        async with models.get_database().transaction():
            author = await Author.objects.create(name=new.name)
            with values_under("first_book"):
                book = await Book.objects.create(
                    title=new.first_book.title, year=new.first_book.year, author=author
                )
    except IntegrityError:
        # Raised by either INSERT; the transaction rolled back, so the author is gone too.
        detail = (
            f"an author named {new.name!r} or a book titled {new.first_book.title!r} exists; "
            "nothing was saved"
        )
        raise HTTPException(409, detail) from None
    return AuthorWithBooks.model_validate({"id": author.id, "name": author.name, "books": [book]})


# -- the application ---------------------------------------------------------------------------


def create_app(database_url: str | None = None) -> FastAPI:
    """The bookshop on ``database_url`` (default: ``$DATABASE_URL``, else a SQLite file)."""
    database = Database(database_url or os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        models.database = database  # the models query this Database from now on
        async with database:  # connect; disconnect (closing the pool) at shutdown
            yield

    app = FastAPI(title="Bookshop", lifespan=lifespan)
    app.include_router(router)
    app.add_exception_handler(orm.ValidationError, invalid_value)
    return app


app = create_app()
