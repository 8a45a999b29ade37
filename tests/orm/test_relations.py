"""Relations: declaring, forward access, related managers, loading, lookups, deletes.

Every loading path is checked for its exact number of queries, and touching an unloaded
relation for issuing none.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from library_models import Author, Book, Category, Club, Loan, Person, Profile, Publisher, Tag

import orm
from asyncdb import Database, IntegrityError
from orm import Count, F, Prefetch, Q


def names(objs: object) -> list[str]:
    return sorted(getattr(o, "name", None) or o.title for o in objs)  # type: ignore[attr-defined]


# -- declaring ---------------------------------------------------------------------------------


def test_foreign_key_columns_and_constraints() -> None:
    columns = Book.table.c
    assert "author_id" in columns and "editor_id" in columns
    assert not columns.author_id.nullable and columns.editor_id.nullable
    (fk,) = columns.author_id.foreign_keys
    assert fk.column is Author.table.c.id and fk.ondelete == "CASCADE"
    assert fk.constraint.name == "fk_orm_lib_books_author_id_orm_lib_authors"
    assert "ix_orm_lib_books_author_id" in {i.name for i in Book.table.indexes}
    assert Profile.table.c.author_id.unique
    link = Book._meta.fields["tags"].through_model  # type: ignore[attr-defined]
    assert link.table.name == "orm_lib_books_tags"
    assert {c.name for c in link.table.constraints} >= {"uq_orm_lib_books_tags_book_id_tag_id"}


def test_bad_relations_fail_clearly() -> None:
    models = orm.ModelRegistry()

    class Owner(orm.Model):
        registry = models
        name = orm.String(max_length=10)

    with pytest.raises(orm.ORMError, match="clashes with Owner.name"):

        class Pet(orm.Model):
            registry = models
            owner = orm.ForeignKey(Owner, related_name="name")

    with pytest.raises(orm.ORMError, match="SET_NULL needs null=True"):

        class Toy(orm.Model):
            registry = models
            owner = orm.ForeignKey(Owner, on_delete=orm.SET_NULL)

    class Ghost(orm.Model):
        registry = models
        haunts = orm.ForeignKey("Nowhere")

    with pytest.raises(orm.ORMError, match="Ghost.haunts -> 'Nowhere'"):
        models.check()
    with pytest.raises(orm.ORMError, match="unresolved relations"):
        _ = Ghost.objects.filter(id=1).statement


# -- forward access ----------------------------------------------------------------------------


async def test_unloaded_forward_relation_is_a_reference(
    books: SimpleNamespace, db: Database
) -> None:
    async with db.capture_queries() as captured:
        book = await Book.objects.get(title="Dune")
        assert book.author_id == books.ann.pk
        author = book.author
        assert author.pk == books.ann.pk and author.id == books.ann.pk
        assert author == books.ann and isinstance(author, Author)
        with pytest.raises(orm.RelationNotLoaded) as info:
            _ = author.name
    assert len(captured) == 1  # only the get()
    assert str(info.value) == (
        'Book.author is not loaded. Use Book.objects.select_related("author"), '
        "or await book.author.load()."
    ).replace('"author"', "'author'")
    loaded = await book.author.load()
    assert loaded is book.author and book.author.name == "Ann"


async def test_assigning_relation_and_key(books: SimpleNamespace) -> None:
    book = await Book.objects.get(title="Emma")
    book.author = books.bob
    assert book.author_id == books.bob.pk and book.author is books.bob
    await book.save()
    assert (await Book.objects.get(title="Emma")).author_id == books.bob.pk
    book.author_id = books.cy.pk
    assert book.author.pk == books.cy.pk  # a reference to the new key, not the stale object
    await book.save()
    assert (await Book.objects.select_related("author").get(title="Emma")).author.name == "Cy"
    book.editor = None
    await book.save()
    assert (await Book.objects.get(title="Emma")).editor is None
    with pytest.raises(orm.FieldError, match="takes a Author"):
        book.author = books.sf  # type: ignore[assignment]
    new = Book(title="New", author=books.cy)
    await new.save()
    assert new.author_id == books.cy.pk


async def test_null_relation_and_key_validation(books: SimpleNamespace, db: Database) -> None:
    async with db.capture_queries() as captured:
        with pytest.raises(orm.ValidationError, match=r"Book\.author: null is not allowed"):
            await Book.objects.create(title="orphan")
    assert len(captured) == 0
    with pytest.raises(IntegrityError):
        await Book.objects.create(title="dangling", author_id=99999)


# -- select_related ----------------------------------------------------------------------------


async def test_select_related_one_query(books: SimpleNamespace, db: Database) -> None:
    async with db.capture_queries() as captured:
        found = await Book.objects.select_related("author", "editor").order_by("title")
        summary = [(b.title, b.author.name, b.editor.name if b.editor else None) for b in found]
    assert len(captured) == 1
    assert summary == [
        ("Dune", "Ann", "Bob"),
        ("Emma", "Ann", None),
        ("Odes", "Bob", "Ann"),
        ("Solaris", "Bob", None),
    ]


async def test_select_related_nested_and_nullable(books: SimpleNamespace, db: Database) -> None:
    await Book.objects.create(title="Indie", author=books.cy)
    async with db.capture_queries() as captured:
        found = await Book.objects.select_related("author__publisher").order_by("title")
        publishers = {b.title: b.author.publisher and b.author.publisher.name for b in found}
    assert len(captured) == 1
    assert publishers["Dune"] == "Penguin" and publishers["Indie"] is None
    assert "LEFT OUTER JOIN" in captured.statements[0].upper()


async def test_select_related_reverse_one_to_one(books: SimpleNamespace, db: Database) -> None:
    await Profile.objects.create(author=books.ann, bio="hi")
    async with db.capture_queries() as captured:
        authors = await Author.objects.select_related("profile").order_by("name")
        bios = [a.profile.bio if a.profile else None for a in authors]
    assert len(captured) == 1 and bios == ["hi", None, None]
    plain = await Author.objects.get(name="Ann")
    with pytest.raises(orm.RelationNotLoaded, match="Author.profile is not loaded"):
        _ = plain.profile
    profile = await Profile.objects.select_related("author").get()
    assert profile.author.name == "Ann"


async def test_select_related_errors(lib: SimpleNamespace) -> None:
    with pytest.raises(orm.FieldError, match="use prefetch_related"):
        await Author.objects.select_related("books").all()
    with pytest.raises(orm.FieldError, match="Valid relations: publisher"):
        await Author.objects.select_related("nope").all()


async def test_select_related_with_filter_slice_and_self_reference(
    lib: SimpleNamespace, db: Database
) -> None:
    root = await Category.objects.create(name="root")
    child = await Category.objects.create(name="child", parent=root)
    await Category.objects.create(name="leaf", parent=child)
    leaf = await Category.objects.select_related("parent__parent").get(name="leaf")
    assert leaf.parent.name == "child" and leaf.parent.parent.name == "root"
    assert leaf.parent.parent.parent is None
    qs = Category.objects.select_related("parent").filter(parent__isnull=False).order_by("id")
    assert [c.parent.name for c in await qs[1:]] == ["child"]


# -- related managers and prefetch_related -----------------------------------------------------


async def test_related_manager_queries(books: SimpleNamespace) -> None:
    ann = books.ann
    assert names(await ann.books.all()) == ["Dune", "Emma"]
    assert names(await ann.books) == ["Dune", "Emma"]
    assert await ann.books.count() == 2
    assert names(await ann.books.filter(pages__gt=400)) == ["Dune"]
    assert names(await books.dune.tags.all()) == ["sf"]
    assert names(await books.short.books.order_by("title")) == ["Emma", "Odes"]
    made = await ann.books.create(title="Persuasion")
    assert made.author_id == ann.pk
    assert await ann.books.count() == 3


async def test_unloaded_related_manager_raises(books: SimpleNamespace, db: Database) -> None:
    author = await Author.objects.get(name="Ann")
    async with db.capture_queries() as captured:
        for touch in (list, len, bool, iter, lambda m: m[0], lambda m: books.dune in m):
            with pytest.raises(orm.RelationNotLoaded) as info:
                touch(author.books)
    assert len(captured) == 0
    assert str(info.value) == (
        "Author.books is not loaded. Use Author.objects.prefetch_related('books'), "
        "or await author.books.all()."
    )


async def test_prefetch_reverse_fk_one_query_per_path(books: SimpleNamespace, db: Database) -> None:
    async with db.capture_queries() as captured:
        authors = await Author.objects.prefetch_related("books").order_by("name")
        assert [len(a.books) for a in authors] == [2, 2, 0]
        assert names(authors[0].books) == ["Dune", "Emma"]
        assert list(authors[2].books) == [] and not authors[2].books
        assert authors[0].books[0].author is authors[0]  # the way back needs no query
        assert names(await authors[0].books.all()) == ["Dune", "Emma"]  # from the prefetch
    assert len(captured) == 2


async def test_prefetch_many_to_many_forward_and_nested(
    books: SimpleNamespace, db: Database
) -> None:
    async with db.capture_queries() as captured:
        found = await Book.objects.prefetch_related("tags").order_by("title")
        tags = {b.title: names(b.tags) for b in found}
    assert len(captured) == 2
    assert tags == {"Dune": ["sf"], "Emma": ["short"], "Odes": ["poetry", "short"], "Solaris": []}
    async with db.capture_queries() as captured:
        authors = await Author.objects.prefetch_related("books__tags", "publisher")
        by_name = {a.name: a for a in authors}
        assert names([*by_name["Bob"].books[0].tags, *by_name["Bob"].books[1].tags]) == [
            "poetry",
            "short",
        ]
        assert by_name["Ann"].publisher.name == "Penguin" and by_name["Cy"].publisher is None
    assert len(captured) == 4  # authors, books, tags, publishers
    reverse = await Tag.objects.prefetch_related("books").get(name="short")
    assert names(reverse.books) == ["Emma", "Odes"]


async def test_prefetch_with_queryset_and_parent_filters(
    books: SimpleNamespace, db: Database
) -> None:
    long_books = Book.objects.filter(pages__gte=250).order_by("-pages")
    async with db.capture_queries() as captured:
        authors = await (
            Author.objects.filter(publisher__name="Penguin")
            .select_related("publisher")
            .prefetch_related(Prefetch("books", queryset=long_books))
            .order_by("name")[:1]
        )
    assert len(captured) == 2
    assert [a.name for a in authors] == ["Ann"]
    assert [b.title for b in authors[0].books] == ["Dune", "Emma"]
    assert authors[0].publisher.name == "Penguin"
    with_attr = await Author.objects.prefetch_related(
        Prefetch("books", queryset=Book.objects.filter(pages__lt=100), to_attr="short_books")
    ).get(name="Bob")
    assert [b.title for b in with_attr.short_books] == ["Odes"]


async def test_prefetch_chunks_large_key_lists(lib: SimpleNamespace, db: Database) -> None:
    import orm.prefetch as prefetch_module

    authors = await Author.objects.bulk_create([Author(name=f"a{i}") for i in range(30)])
    await Book.objects.bulk_create([Book(title=f"b{i}", author=a) for i, a in enumerate(authors)])
    limit = db.features.max_bind_params
    try:
        prefetch_module._RESERVED_PARAMS = limit - 10  # chunks of 10 keys
        async with db.capture_queries() as captured:
            loaded = await Author.objects.prefetch_related("books")
    finally:
        prefetch_module._RESERVED_PARAMS = 100
    assert len(captured) == 1 + 3
    assert all(len(a.books) == 1 for a in loaded)


async def test_many_to_many_add_remove_clear_set(books: SimpleNamespace, db: Database) -> None:
    dune = books.dune
    async with db.capture_queries() as captured:
        await dune.tags.add(books.sf, books.poetry)  # sf already linked: skipped
    assert len(captured) == 1
    assert names(await dune.tags.all()) == ["poetry", "sf"]
    await dune.tags.add(books.short.pk)  # keys work too
    async with db.capture_queries() as captured:
        await dune.tags.remove(books.poetry, books.short)
    assert len(captured) == 1
    assert names(await dune.tags.all()) == ["sf"]
    await dune.tags.set([books.short, books.poetry])
    assert names(await dune.tags.all()) == ["poetry", "short"]
    async with db.capture_queries() as captured:
        await dune.tags.clear()
    assert len(captured) == 1 and await dune.tags.count() == 0
    new_tag = await dune.tags.create(name="classic")
    assert [t.pk for t in await dune.tags.all()] == [new_tag.pk]
    assert names(await new_tag.books.all()) == ["Dune"]
    # prefetch cache is dropped by changes, never stale
    prefetched = await Book.objects.prefetch_related("tags").get(pk=dune.pk)
    await prefetched.tags.add(books.sf)
    with pytest.raises(orm.RelationNotLoaded):
        len(prefetched.tags)


async def test_many_to_many_through_model(lib: SimpleNamespace) -> None:
    ann, bob = await Person.objects.bulk_create([Person(name="Ann"), Person(name="Bob")])
    club = await Club.objects.create(name="Chess")
    await lib.Membership.objects.create(club=club, person=ann, role="chair")
    await club.members.add(bob)  # extra columns of the link take their defaults
    roles = dict(await lib.Membership.objects.filter(club=club).values_list("person__name", "role"))
    assert roles == {"Ann": "chair", "Bob": "member"}
    assert names(await club.members.all()) == ["Ann", "Bob"]
    assert names(await ann.clubs.all()) == ["Chess"]
    chairs = await Club.objects.filter(memberships__role="chair").values_list("name", flat=True)
    assert chairs == ["Chess"]


# -- lookups across relations ------------------------------------------------------------------


async def test_lookups_across_relations(books: SimpleNamespace) -> None:
    def titles(qs: orm.QuerySet[Book]) -> object:
        return qs.order_by("title").values_list("title", flat=True)

    assert await titles(Book.objects.filter(author__name="Ann")) == ["Dune", "Emma"]
    assert await titles(Book.objects.filter(author__name__icontains="B")) == ["Odes", "Solaris"]
    assert await titles(Book.objects.filter(author__publisher__name="Penguin")) == [
        "Dune",
        "Emma",
        "Odes",
        "Solaris",
    ]
    assert await titles(Book.objects.filter(author=books.bob)) == ["Odes", "Solaris"]
    assert await titles(Book.objects.filter(author__in=[books.bob, books.cy.pk])) == [
        "Odes",
        "Solaris",
    ]
    assert await titles(Book.objects.filter(tags__name="short")) == ["Emma", "Odes"]
    either = Q(tags__name="sf") | Q(editor__name="Ann")
    # many-valued joins repeat rows (Odes has two tags); distinct() removes the repeats
    assert await titles(Book.objects.filter(either)) == ["Dune", "Odes", "Odes"]
    assert await titles(Book.objects.filter(either).distinct()) == [
        "Dune",
        "Odes",
    ]
    assert await titles(Book.objects.exclude(tags__name="short")) == ["Dune", "Solaris"]
    assert await titles(Book.objects.exclude(author__name="Ann")) == ["Odes", "Solaris"]
    assert await titles(Book.objects.filter(editor__isnull=True)) == ["Emma", "Solaris"]
    reverse = Author.objects.filter(books__title__icontains="e").distinct().order_by("name")
    assert await reverse.values_list("name", flat=True) == ["Ann", "Bob"]
    assert await Author.objects.filter(books__tags__name="poetry").values_list(
        "name", flat=True
    ) == ["Bob"]
    assert await Author.objects.exclude(books__pages__gt=500).order_by("name").values_list(
        "name", flat=True
    ) == ["Bob", "Cy"]


async def test_order_values_and_aggregates_across_relations(books: SimpleNamespace) -> None:
    ordered = await Book.objects.order_by("-author__name", "title").values_list("title", flat=True)
    assert ordered == ["Odes", "Solaris", "Dune", "Emma"]
    rows = await Book.objects.filter(title="Dune").values("title", "author__name")
    assert rows == [{"title": "Dune", "author__name": "Ann"}]
    counts = await Author.objects.annotate(n=Count("books")).order_by("name")
    assert [(a.name, a.n) for a in counts] == [("Ann", 2), ("Bob", 2), ("Cy", 0)]
    busy = await Author.objects.annotate(n=Count("books")).filter(n__gte=2).count()
    assert busy == 2
    pages = await Author.objects.values("name").annotate(total=orm.Sum("books__pages"))
    assert {r["name"]: r["total"] for r in pages} == {"Ann": 900, "Bob": 280, "Cy": None}
    total = await Book.objects.filter(author__publisher__name="Penguin").aggregate(
        pages=orm.Sum("pages")
    )
    assert total == {"pages": 1180}
    assert await Book.objects.filter(author__name="Ann").update(pages=F("pages") + 1) == 2
    assert await Book.objects.filter(author__name="Ann").count() == 2


# -- deletes -----------------------------------------------------------------------------------


async def test_on_delete_rules(books: SimpleNamespace) -> None:
    await Loan.objects.create(book=books.odes)
    with pytest.raises(IntegrityError):  # RESTRICT
        await books.odes.delete()
    await Loan.objects.delete()
    # SET_NULL: Bob edited Dune; deleting Bob (CASCADE) removes his books, nulls Dune's editor
    await books.bob.delete()
    dune = await Book.objects.get(title="Dune")
    assert dune.editor_id is None
    assert await Book.objects.filter(title__in=["Odes", "Solaris"]).count() == 0
    # deleting through a queryset honours the same rules; link rows go with their book
    link = Book._meta.fields["tags"].through_model  # type: ignore[attr-defined]
    before = await link.objects.count()
    assert await Author.objects.filter(name="Ann").delete() == 1
    assert await Book.objects.count() == 0
    assert await link.objects.count() == 0 and before == 2
    await Publisher.objects.filter(name="Penguin").delete()
    assert (await Author.objects.get(name="Cy")).publisher_id is None


async def test_deleting_a_tag_removes_link_rows(books: SimpleNamespace) -> None:
    await books.short.delete()
    assert names(await books.odes.tags.all()) == ["poetry"]


async def test_values_of_a_model_with_keys(books: SimpleNamespace) -> None:
    row = (await Book.objects.filter(title="Dune").values())[0]
    assert row["author_id"] == books.ann.pk and row["editor_id"] == books.bob.pk
    assert row == (await Book.objects.get(title="Dune")).to_dict()


async def test_delete_and_bulk_update_filtered_across_relations(books: SimpleNamespace) -> None:
    emma = await Book.objects.get(title="Emma")
    emma.author = books.cy
    assert await Book.objects.bulk_update([emma], ["author"]) == 1
    assert (await Book.objects.get(title="Emma")).author_id == books.cy.pk
    # MySQL cannot read the table it deletes from in a subquery: a derived table is used
    assert await Book.objects.filter(author__publisher__name="Penguin").delete() == 3
    assert await Book.objects.values_list("title", flat=True) == ["Emma"]
    assert await Book.objects.filter(tags__name="short").count() == 1


async def test_many_to_many_prefetch_of_many_parents(lib: SimpleNamespace, db: Database) -> None:
    author = await Author.objects.create(name="prolific")
    tag = await Tag.objects.create(name="t")
    created = await Book.objects.bulk_create(
        [Book(title=f"b{i}", author=author) for i in range(300)]
    )
    for book in created[::3]:
        await book.tags.add(tag)
    for count in (300, 5):  # one expanding IN list, then a short padded one
        async with db.capture_queries() as captured:
            found = await Book.objects.order_by("id")[:count].prefetch_related("tags")
        assert len(captured) == 2
        assert [len(b.tags) for b in found] == [1 if i % 3 == 0 else 0 for i in range(count)]
