"""The demo's models: a small bookshop."""

from __future__ import annotations

import orm

models = orm.ModelRegistry()  # the database is set by demo.app at start-up

#: Where Alembic records the demo's revision (db_migrations/env.py): not the default
#: ``alembic_version``, so the demo never meets the revisions of a database that already uses
#: Alembic.
VERSION_TABLE = "demo_alembic_version"


class Author(orm.Model):
    registry = models
    tablename = "demo_authors"
    name = orm.String(max_length=100, unique=True)
    born = orm.Integer(null=True)


class Tag(orm.Model):
    registry = models
    tablename = "demo_tags"
    name = orm.String(max_length=50, unique=True)


class Book(orm.Model):
    registry = models
    tablename = "demo_books"
    title = orm.String(max_length=200)
    year = orm.Integer()
    price = orm.Decimal(max_digits=6, decimal_places=2)
    author = orm.ForeignKey(Author, related_name="books", on_delete=orm.CASCADE)
    tags = orm.ManyToMany(Tag, related_name="books")
