"""The bookshop's models: authors, their books and the books' tags.

The registry has no database yet: the application binds one when it starts (see app.py), so
importing the models never opens a connection or reads configuration.
"""

from __future__ import annotations

import orm

__all__ = ["Author", "Book", "Tag", "models"]

models = orm.ModelRegistry()

# The table names carry a prefix only because the example's tests share their databases with
# other suites; in your own application the default names ("author", "book", ...) do.


class Author(orm.Model):
    registry = models
    tablename = "ex_fastapi_authors"
    name: orm.Field[str] = orm.String(max_length=100, unique=True)


class Tag(orm.Model):
    registry = models
    tablename = "ex_fastapi_tags"
    name: orm.Field[str] = orm.String(max_length=50, unique=True)


class Book(orm.Model):
    registry = models
    tablename = "ex_fastapi_books"
    title: orm.Field[str] = orm.String(max_length=200, unique=True)
    year: orm.Field[int | None] = orm.Integer(null=True)
    author = orm.ForeignKey(Author, related_name="books", on_delete=orm.CASCADE)
    tags = orm.ManyToMany(Tag, related_name="books")
