"""``prefetch_related``'s direct paths: the keyed select built once per shape and bound, the
children grouped and attached (with their way back) in one pass, many-to-many targets built
once per key. Each test would fail if that path attached a child to the wrong parent."""

from __future__ import annotations

from types import SimpleNamespace

from library_models import Author, Book, Tag

from asyncdb import Database
from orm import Prefetch
from orm.prefetch import prefetch_related_objects


async def test_reverse_fk_children_go_to_their_parents(
    books: SimpleNamespace, db: Database
) -> None:
    by_pages = Book.objects.order_by("-pages")
    async with db.capture_queries() as captured:
        authors = await Author.objects.prefetch_related(Prefetch("books", by_pages)).order_by(
            "name"
        )
    assert len(captured) == 2
    ann, bob, cy = authors
    assert [b.title for b in ann.books] == ["Dune", "Emma"]  # the queryset's order
    assert [b.title for b in bob.books] == ["Solaris", "Odes"]
    assert list(cy.books) == []  # a parent without children gets its own empty list
    for author in (ann, bob):
        assert all(book.author is author for book in author.books)  # the way back is set
        assert all(book.author_id == author.pk for book in author.books)


async def test_reverse_fk_without_the_key_column_still_attaches(
    books: SimpleNamespace, db: Database
) -> None:
    titles_only = Book.objects.only("title").order_by("title")
    authors = await Author.objects.prefetch_related(Prefetch("books", titles_only)).order_by("name")
    assert [[b.title for b in a.books] for a in authors] == [
        ["Dune", "Emma"],
        ["Odes", "Solaris"],
        [],
    ]
    # (before, every child was grouped under a missing key and every parent got [])


async def test_reverse_fk_keeps_a_joined_way_back(books: SimpleNamespace) -> None:
    joined = Book.objects.select_related("author").order_by("title")
    (ann,) = await Author.objects.filter(name="Ann").prefetch_related(Prefetch("books", joined))
    assert [b.title for b in ann.books] == ["Dune", "Emma"]
    assert all(b.author.name == "Ann" and b.author is not ann for b in ann.books)


async def test_parents_sharing_a_key_share_children(books: SimpleNamespace, db: Database) -> None:
    first = await Author.objects.get(name="Bob")
    second = await Author.objects.get(name="Bob")
    unsaved = Author(name="new")
    await prefetch_related_objects([first, unsaved, second], ["books"], db)
    assert [b.title for b in first.books] == [b.title for b in second.books]
    assert sorted(b.title for b in first.books) == ["Odes", "Solaris"]
    assert all(b.author is first for b in second.books)  # the first instance is the way back
    assert list(unsaved.books) == []


async def test_many_to_many_shared_targets_are_one_object(
    books: SimpleNamespace, db: Database
) -> None:
    async with db.capture_queries() as captured:
        found = await Book.objects.prefetch_related("tags").order_by("title")
    assert len(captured) == 2
    by_title = {b.title: b for b in found}
    assert {t: sorted(x.name for x in b.tags) for t, b in by_title.items()} == {
        "Dune": ["sf"],
        "Emma": ["short"],
        "Odes": ["poetry", "short"],
        "Solaris": [],
    }
    (emma_short,) = by_title["Emma"].tags
    (odes_short,) = [t for t in by_title["Odes"].tags if t.name == "short"]
    assert emma_short is odes_short  # one Tag for both parents
    assert list(by_title["Solaris"].tags) == []


async def test_many_to_many_with_queryset_and_nested_prefetch(
    books: SimpleNamespace, db: Database
) -> None:
    named = Tag.objects.filter(name__in=["short", "sf"]).order_by("-name").prefetch_related("books")
    async with db.capture_queries() as captured:
        found = await Book.objects.prefetch_related(Prefetch("tags", named)).order_by("title")
    assert len(captured) == 3  # books, tags, the tags' books
    by_title = {b.title: b for b in found}
    assert [t.name for t in by_title["Odes"].tags] == ["short"]
    assert [t.name for t in by_title["Dune"].tags] == ["sf"]
    short = by_title["Emma"].tags[0]
    assert sorted(b.title for b in short.books) == ["Emma", "Odes"]


async def test_keyed_select_text_is_stable_per_list_size(
    books: SimpleNamespace, db: Database
) -> None:
    authors = await Author.objects.order_by("name")
    texts = []
    for group in (authors[:3], authors[1:], authors[:3]):  # 3, 2, 3 keys: sizes 4, 2, 4
        for author in group:
            author.__dict__.pop("books", None)
        async with db.capture_queries() as captured:
            await prefetch_related_objects(group, ["books"], db)
        (sql,) = captured
        texts.append(sql)
    assert texts[0] == texts[2] and texts[0] != texts[1]
