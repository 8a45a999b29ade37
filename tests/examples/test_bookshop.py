"""The Starlette and FastAPI bookshops over HTTP, on every backend.

Both examples serve the same API with the same error bodies, so one suite drives both.
"""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

import orm

from .support import Shop, client_for, run_lifespan

CONCURRENT = 50


async def seed(shop: Shop) -> dict[str, Any]:
    """Two authors, three tags, three books; returns them by name."""
    m = shop.models
    ann = await m.Author.objects.create(name="Ann")
    bob = await m.Author.objects.create(name="Bob")
    sf, poetry, short = await m.Tag.objects.bulk_create(
        [m.Tag(name="sf"), m.Tag(name="poetry"), m.Tag(name="short")]
    )
    dune = await m.Book.objects.create(title="Dune", year=1965, author=ann)
    odes = await m.Book.objects.create(title="Odes", year=None, author=bob)
    emma = await m.Book.objects.create(title="Emma", year=1815, author=ann)
    await dune.tags.add(sf)
    await odes.tags.add(poetry, short)
    return {"ann": ann, "bob": bob, "sf": sf, "dune": dune, "odes": odes, "emma": emma}


def error_locations(response: Any) -> list[list[str | int]]:
    """The ``loc`` of each error in a 422 body (FastAPI's shape, which both apps use)."""
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert all(isinstance(error["msg"], str) and error["msg"] for error in errors), errors
    return [error["loc"] for error in errors]


# -- reading -----------------------------------------------------------------------------------


async def test_list_books_with_author_and_tags(shop: Shop) -> None:
    seeded = await seed(shop)
    response = await shop.client.get("/books")
    assert response.status_code == 200
    ann = {"id": seeded["ann"].id, "name": "Ann"}
    bob = {"id": seeded["bob"].id, "name": "Bob"}
    assert response.json() == [
        {"id": seeded["dune"].id, "title": "Dune", "year": 1965, "author": ann, "tags": ["sf"]},
        {
            "id": seeded["odes"].id,
            "title": "Odes",
            "year": None,
            "author": bob,
            "tags": ["poetry", "short"],
        },
        {"id": seeded["emma"].id, "title": "Emma", "year": 1815, "author": ann, "tags": []},
    ]
    page = await shop.client.get("/books", params={"limit": 1, "offset": 1})
    assert [book["title"] for book in page.json()] == ["Odes"]


async def test_list_takes_two_queries_whatever_the_number_of_books(shop: Shop) -> None:
    seeded = await seed(shop)
    m = shop.models

    async def queries_for_list() -> tuple[int, int]:
        async with shop.database.capture_queries() as captured:
            response = await shop.client.get("/books", params={"limit": 100})
        assert response.status_code == 200
        return len(response.json()), len(captured)

    assert await queries_for_list() == (3, 2)  # books JOIN authors; tags of those books

    more = await m.Book.objects.bulk_create(
        [m.Book(title=f"Book {i}", year=2000 + i, author=seeded["bob"]) for i in range(40)]
    )
    for book in more[::2]:
        await book.tags.add(seeded["sf"])
    assert await queries_for_list() == (43, 2)


async def test_book_detail_and_404(shop: Shop) -> None:
    seeded = await seed(shop)
    response = await shop.client.get(f"/books/{seeded['odes'].id}")
    assert response.status_code == 200
    assert response.json()["author"]["name"] == "Bob"
    assert response.json()["tags"] == ["poetry", "short"]

    missing = await shop.client.get("/books/999999")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "no book with id 999999"}
    beyond_any_key = await shop.client.get(f"/books/{2**40}")
    assert beyond_any_key.status_code == 404


async def test_bad_paging_is_422(shop: Shop) -> None:
    response = await shop.client.get("/books", params={"limit": 0})
    assert error_locations(response) == [["query", "limit"]]
    response = await shop.client.get("/books", params={"offset": "x"})
    assert error_locations(response) == [["query", "offset"]]


# -- creating ----------------------------------------------------------------------------------


async def test_create_book(shop: Shop) -> None:
    seeded = await seed(shop)
    body = {"title": "Kindred", "year": 1979, "author_id": seeded["bob"].id, "tags": ["sf", "new"]}
    response = await shop.client.post("/books", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["title"] == "Kindred"
    assert created["author"] == {"id": seeded["bob"].id, "name": "Bob"}
    assert created["tags"] == ["new", "sf"]  # "sf" existed; "new" was created

    fetched = await shop.client.get(f"/books/{created['id']}")
    assert fetched.json() == created
    assert await shop.models.Tag.objects.count() == 4


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({"title": "x" * 201}, ["body", "title"]),  # the ORM's max_length
        ({"title": 42}, ["body", "title"]),
        ({"year": "a long time ago"}, ["body", "year"]),
        ({"author_id": 999999}, ["body", "author_id"]),
        ({"author_id": "Ann"}, ["body", "author_id"]),
        ({"author_id": 2**40}, ["body", "author_id"]),
        ({"tags": "sf"}, ["body", "tags"]),
        ({"tags": ["sf", "x" * 51]}, ["body", "tags", 1]),  # Tag.name's max_length
    ],
)
async def test_create_book_with_bad_input_is_422_naming_the_field(
    shop: Shop, body: dict[str, Any], location: list[str | int]
) -> None:
    seeded = await seed(shop)
    valid = {"title": "Kindred", "year": 1979, "author_id": seeded["bob"].id, "tags": []}
    response = await shop.client.post("/books", json={**valid, **body})
    assert location in error_locations(response)
    assert await shop.models.Book.objects.count() == 3
    assert await shop.models.Tag.objects.count() == 3


async def test_create_book_with_missing_field_or_bad_json_is_422(shop: Shop) -> None:
    seeded = await seed(shop)
    response = await shop.client.post("/books", json={"author_id": seeded["ann"].id})
    assert ["body", "title"] in error_locations(response)
    response = await shop.client.post(
        "/books", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert error_locations(response)


async def test_create_book_with_a_taken_title_is_409(shop: Shop) -> None:
    seeded = await seed(shop)
    body = {"title": "Dune", "author_id": seeded["bob"].id, "tags": ["brand new"]}
    response = await shop.client.post("/books", json=body)
    assert response.status_code == 409
    assert "Dune" in response.json()["detail"]
    # The book's tags were written in the same transaction: gone with it.
    assert not await shop.models.Tag.objects.filter(name="brand new").exists()


# -- a transaction spanning two writes ---------------------------------------------------------


async def test_author_and_first_book_are_created_together(shop: Shop) -> None:
    body = {"name": "Octavia", "first_book": {"title": "Kindred", "year": 1979}}
    response = await shop.client.post("/authors", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["name"] == "Octavia"
    [book] = created["books"]
    detail = (await shop.client.get(f"/books/{book['id']}")).json()
    assert detail["author"] == {"id": created["id"], "name": "Octavia"}


async def test_failing_second_write_keeps_nothing(shop: Shop) -> None:
    await seed(shop)
    m = shop.models
    # The author INSERT succeeds, then the book's title is taken: both roll back.
    body = {"name": "Octavia", "first_book": {"title": "Dune", "year": 1979}}
    response = await shop.client.post("/authors", json=body)
    assert response.status_code == 409
    assert "nothing was saved" in response.json()["detail"]
    assert not await m.Author.objects.filter(name="Octavia").exists()

    # The author INSERT succeeds, then the ORM refuses the title: 422 and both roll back.
    body = {"name": "Octavia", "first_book": {"title": "x" * 201}}
    response = await shop.client.post("/authors", json=body)
    assert error_locations(response) == [["body", "first_book", "title"]]
    assert not await m.Author.objects.filter(name="Octavia").exists()

    # The first write fails: a taken author name.
    body = {"name": "Ann", "first_book": {"title": "New"}}
    response = await shop.client.post("/authors", json=body)
    assert response.status_code == 409
    assert not await m.Book.objects.filter(title="New").exists()

    assert await m.Author.objects.count() == 2
    assert await m.Book.objects.count() == 3


# -- eager release: no connection per request --------------------------------------------------


async def test_50_concurrent_requests_on_a_pool_of_2(shop: Shop) -> None:
    seeded = await seed(shop)
    client = shop.client

    def request(i: int) -> Any:
        if i % 5 == 0:
            body = {"title": f"Concurrent {i}", "author_id": seeded["ann"].id}
            return client.post("/books", json=body)
        if i % 2:
            return client.get(f"/books/{seeded['dune'].id}")
        return client.get("/books")

    async with asyncio.timeout(60):
        responses = await asyncio.gather(*(request(i) for i in range(CONCURRENT)))
    assert sorted({r.status_code for r in responses}) == [200, 201]
    assert await shop.models.Book.objects.count() == 3 + CONCURRENT // 5
    stats = shop.database.pool_stats()
    assert stats.size <= 2
    assert stats.in_use == 0


async def test_slow_clients_hold_no_connection(shop: Shop) -> None:
    """Every response waits until all 50 requests have run their queries: with a connection per
    request, the third request could never get one from a pool of two."""
    seeded = await seed(shop)
    all_answered = asyncio.Barrier(CONCURRENT)

    async def slow_client(scope: Any, receive: Any, send: Any) -> None:
        async def send_when_all_answered(message: Any) -> None:
            if message["type"] == "http.response.start":
                await all_answered.wait()
            await send(message)

        await shop.app(scope, receive, send_when_all_answered)

    async with client_for(slow_client) as client, asyncio.timeout(30):
        responses = await asyncio.gather(
            *(client.get(f"/books/{seeded['dune'].id}") for _ in range(CONCURRENT))
        )
    assert {r.status_code for r in responses} == {200}


async def test_awaiting_other_io_between_queries_holds_no_connection(shop: Shop) -> None:
    """A handler in the examples' style that awaits something slow between two queries."""
    book_model = shop.models.Book
    everyone_queried = asyncio.Barrier(CONCURRENT)

    async def handler(request: Request) -> JSONResponse:
        before = await book_model.objects.count()
        await everyone_queried.wait()  # stands in for a call to another service
        after = await book_model.objects.count()
        return JSONResponse({"before": before, "after": after})

    outer = Starlette(routes=[Route("/slow", handler), Mount("", app=shop.app)])
    async with client_for(outer) as client:
        async with asyncio.timeout(30):
            responses = await asyncio.gather(*(client.get("/slow") for _ in range(CONCURRENT)))
        assert (await client.get("/books")).status_code == 200  # the example, mounted
    assert {r.status_code for r in responses} == {200}


# -- configuration -----------------------------------------------------------------------------


async def test_database_url_comes_from_the_environment(
    example: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_module = importlib.import_module(f"examples.{example}.app")
    registry: orm.ModelRegistry = importlib.import_module(f"examples.{example}.models").models
    url = f"sqlite:///{tmp_path / 'from-env.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    app = app_module.create_app()
    async with run_lifespan(app):
        database = registry.get_database()
        assert database.is_connected
        assert str(database.url) == url
    assert not database.is_connected  # the lifespan's shutdown closed the pool
