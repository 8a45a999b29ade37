"""Models with relations (the ``library`` registry), for the relation tests."""

from __future__ import annotations

from types import SimpleNamespace

import orm

library = orm.ModelRegistry()


class Publisher(orm.Model):
    registry = library
    tablename = "orm_lib_publishers"
    name = orm.String(max_length=100)


class Book(orm.Model):
    registry = library
    tablename = "orm_lib_books"
    title = orm.String(max_length=200)
    pages = orm.Integer(default=100)
    author = orm.ForeignKey("Author", related_name="books", on_delete=orm.CASCADE)  # by name
    editor = orm.ForeignKey("Author", null=True, related_name="edited", on_delete=orm.SET_NULL)
    tags = orm.ManyToMany("Tag", related_name="books")


class Author(orm.Model):
    registry = library
    tablename = "orm_lib_authors"
    name = orm.String(max_length=100, unique=True)
    publisher = orm.ForeignKey(Publisher, null=True, related_name="authors", on_delete=orm.SET_NULL)


class Tag(orm.Model):
    registry = library
    tablename = "orm_lib_tags"
    name = orm.String(max_length=50, unique=True)


class Profile(orm.Model):
    registry = library
    tablename = "orm_lib_profiles"
    author = orm.OneToOne(Author, related_name="profile")
    bio = orm.Text(default="")


class Category(orm.Model):
    registry = library
    tablename = "orm_lib_categories"
    name = orm.String(max_length=50)
    parent = orm.ForeignKey("Category", null=True, related_name="children")


class Loan(orm.Model):
    registry = library
    tablename = "orm_lib_loans"
    book = orm.ForeignKey(Book, related_name="loans", on_delete=orm.RESTRICT)


class Person(orm.Model):
    registry = library
    tablename = "orm_lib_people"
    name = orm.String(max_length=50)


class Club(orm.Model):
    registry = library
    tablename = "orm_lib_clubs"
    name = orm.String(max_length=50)
    members = orm.ManyToMany(Person, through="Membership", related_name="clubs")


class Membership(orm.Model):
    registry = library
    tablename = "orm_lib_memberships"
    club = orm.ForeignKey(Club, related_name="memberships")
    person = orm.ForeignKey(Person, related_name="memberships")
    role = orm.String(max_length=20, default="member")


LIBRARY = SimpleNamespace(
    Publisher=Publisher,
    Author=Author,
    Book=Book,
    Tag=Tag,
    Profile=Profile,
    Category=Category,
    Loan=Loan,
    Person=Person,
    Club=Club,
    Membership=Membership,
)
