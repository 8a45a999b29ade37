"""Migrations generated from real ``orm`` models: field types, relations, many-to-many."""

from __future__ import annotations

from pathlib import Path

import migrations
import orm
from asyncdb import Database


def _v1(database: Database) -> orm.ModelRegistry:
    models = orm.ModelRegistry(database=database)

    class Author(orm.Model):
        registry = models
        tablename = "authors"
        id = orm.Integer(primary_key=True)
        name = orm.String(max_length=50, unique=True)
        bio = orm.Text()

    return models


def _v2(database: Database) -> orm.ModelRegistry:
    """A longer name, a nullable bio, an indexed new field, two new models and their links."""
    models = orm.ModelRegistry(database=database)

    class Author(orm.Model):
        registry = models
        tablename = "authors"
        id = orm.Integer(primary_key=True)
        name = orm.String(max_length=100, unique=True)
        bio = orm.Text(null=True)
        email = orm.String(max_length=200, null=True, index=True)

    class Tag(orm.Model):
        registry = models
        tablename = "tags"
        id = orm.Integer(primary_key=True)
        name = orm.String(max_length=30, unique=True)

    class Book(orm.Model):
        registry = models
        tablename = "books"
        id = orm.Integer(primary_key=True)
        title = orm.String(max_length=200)
        published = orm.DateTime(null=True)
        data = orm.JSON(null=True)
        author = orm.ForeignKey(Author, related_name="books", on_delete=orm.CASCADE)
        tags = orm.ManyToMany(Tag, related_name="books")

    return models


async def test_orm_models_through_their_lifecycle(migration_url: str, tmp_path: Path) -> None:
    directory = migrations.init(tmp_path / "db_migrations")
    async with Database(migration_url) as db:
        v1 = _v1(db)
        await migrations.makemigrations(db, v1, directory, message="authors")
        await migrations.migrate(db, v1, directory)
        author_v1 = v1.get_model("Author")
        assert author_v1 is not None
        await author_v1.objects.create(name="Ann", bio="writes")

        v2 = _v2(db)
        path = await migrations.makemigrations(db, v2, directory, message="books")
        assert path is not None
        source = path.read_text()
        for expected in ("import orm.types", "'books'", "'tags'", "ondelete='CASCADE'"):
            assert expected in source, expected
        await migrations.migrate(db, v2, directory)
        await migrations.check(db, v2, directory)

        author, book, tag = (v2.get_model(name) for name in ("Author", "Book", "Tag"))
        assert author is not None and book is not None and tag is not None
        ann = await author.objects.get(name="Ann")
        assert (ann.bio, ann.email) == ("writes", None)
        novel = await book.objects.create(title="Novel", author=ann, data={"pages": 300})
        await novel.tags.add(await tag.objects.create(name="fiction"))
        assert await book.objects.filter(tags__name="fiction").count() == 1

        await migrations.downgrade(db, v2, directory, revision="-1")
        await migrations.migrate(db, v2, directory)
        await migrations.check(db, v2, directory)
        assert await author.objects.count() == 1
        assert await book.objects.count() == 0  # the table was dropped and created again


async def test_a_new_field_with_a_default_fills_existing_rows(
    migration_url: str, tmp_path: Path
) -> None:
    directory = migrations.init(tmp_path / "db_migrations")
    async with Database(migration_url) as db:
        v1 = _v1(db)
        await migrations.makemigrations(db, v1, directory, message="authors")
        await migrations.migrate(db, v1, directory)
        await db.execute("INSERT INTO authors (name, bio) VALUES ('Ann', 'x')")

        v2 = orm.ModelRegistry(database=db)

        class Author(orm.Model):
            registry = v2
            tablename = "authors"
            id = orm.Integer(primary_key=True)
            name = orm.String(max_length=50, unique=True)
            bio = orm.Text()
            rating = orm.Integer(default=0)

        path = await migrations.makemigrations(db, v2, directory, message="rating")
        assert path is not None and "server_default='0'" in path.read_text()
        await migrations.migrate(db, v2, directory)
        assert await db.fetch_val("SELECT rating FROM authors") == 0
        await migrations.check(db, v2, directory)
