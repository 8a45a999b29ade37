"""The whole everyday loop through the real command line, on every backend."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import migrations
import orm
from asyncdb import Database, IntegrityError

if TYPE_CHECKING:
    from conftest import Project

MODELS_V1 = """
authors = sa.Table(
    "authors",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50), nullable=False, unique=True),
    sa.Column("bio", sa.Text, nullable=False),
)
"""

# Changes: a field with a server default, two NOT NULL fields with (Python-side) defaults that
# the existing rows must get, an index, a nullable column, a longer String, a model
# with a foreign key (ON DELETE CASCADE), a named enum and a custom type, a many-to-many table.
MODELS_V2 = """
import app_types

authors = sa.Table(
    "authors",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("bio", sa.Text, nullable=True),
    sa.Column("rating", sa.Integer, nullable=False, server_default=sa.text("0"), index=True),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("nickname", sa.String(30), nullable=False, default="anon"),
)
books = sa.Table(
    "books",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("price", app_types.Money(), nullable=True),
    sa.Column("status", sa.Enum("draft", "published", name="book_status"), nullable=False),
    sa.Column(
        "author_id",
        sa.Integer,
        sa.ForeignKey("authors.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
)
tags = sa.Table(
    "tags",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50), nullable=False, unique=True),
)
book_tags = sa.Table(
    "book_tags",
    metadata,
    sa.Column("book_id", sa.ForeignKey("books.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("tag_id", sa.ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
)
"""

MONEY_TYPE = """
import sqlalchemy as sa


class Money(sa.TypeDecorator[object]):
    impl = sa.Numeric(10, 2)
    cache_ok = True
"""

MODELS_V3 = MODELS_V2.replace(
    '    sa.Column("bio", sa.Text, nullable=True),\n',
    '    sa.Column("bio", sa.Text, nullable=True),\n    sa.Column("email", sa.String(200)),\n',
)


async def test_everyday_loop(project: Project) -> None:
    # A folder called migrations/ (an old Alembic folder) must not shadow the package.
    (project.path / "migrations" / "versions").mkdir(parents=True)
    (project.path / "migrations" / "env.py").write_text("raise SystemExit('shadowed!')\n")
    (project.path / "app_types.py").write_text(MONEY_TYPE)
    project.write_models(MODELS_V1)

    assert "Created" in project.cli("init").stdout
    assert (project.path / "db_migrations" / "env.py").is_file()
    project.cli("makemigrations", "-m", "initial")
    assert "Applied" in project.cli("migrate").stdout
    await project.sql(
        "INSERT INTO authors (name, bio) VALUES (:a, 'x'), (:b, 'y')", {"a": "Ann", "b": "Bob"}
    )

    project.write_models(MODELS_V2)
    source = project.make("-m", "books and tags").read_text()
    for expected in (
        "op.create_table('books'",
        "op.create_table('book_tags'",
        "ondelete='CASCADE'",
        "import app_types",
        "app_types.Money(",
        "server_default=sa.text('0')",
        "op.f('ix_authors_rating')",
        "sa.Enum('draft', 'published', name='book_status').drop(op.get_bind(), checkfirst=True)",
    ):
        assert expected in source, expected
    project.cli("migrate")
    rows = await project.sql(
        "SELECT name, bio, rating, active, nickname FROM authors ORDER BY name"
    )
    assert rows == [("Ann", "x", 0, True, "anon"), ("Bob", "y", 0, True, "anon")]
    await project.sql(
        "INSERT INTO books (title, status, author_id, price) VALUES ('T', 'draft', 1, 9.5)"
    )

    assert "Reverted" in project.cli("downgrade", "-1").stdout
    assert "Applied" in project.cli("migrate").stdout
    assert await project.sql("SELECT count(*) FROM authors") == [(2,)]
    assert "agree" in project.cli("check").stdout

    shown = project.cli("showmigrations").stdout.splitlines()
    assert [line[:3] for line in shown] == ["[X]", "[X]"]
    assert shown[0].endswith("initial") and shown[1].endswith("books and tags (head)")
    first = shown[0].split()[1]
    assert "CREATE TABLE authors" in project.cli("sqlmigrate", first).stdout

    project.write_models(MODELS_V3)
    line = project.fail("check")
    assert "add column 'authors.email'" in line


# -- the issue-15 matrix: each change x three backends, rows present ---------------------------
#
# apply -> verify the data -> check is clean -> downgrade -> verify -> upgrade -> check.

Seed = Callable[[Database, orm.ModelRegistry], Awaitable[None]]
Verify = Callable[[Database, orm.ModelRegistry], Awaitable[None]]


async def _lifecycle(
    url: str,
    tmp_path: Path,
    before: orm.ModelRegistry,
    after: orm.ModelRegistry,
    seed: Seed,
    verify_after: Verify,
    verify_before: Verify,
    renames: Sequence[str] = (),
) -> str:
    """Run the whole loop; return the source of the revision written for the change."""
    directory = migrations.init(tmp_path / "db_migrations")
    async with Database(url) as db:
        before.database = after.database = db
        await migrations.makemigrations(db, before, directory, message="before")
        await migrations.migrate(db, before, directory)
        await seed(db, before)
        path = await migrations.makemigrations(
            db, after, directory, message="after", renames=renames
        )
        assert path is not None
        await migrations.migrate(db, after, directory)
        await verify_after(db, after)
        await migrations.check(db, after, directory)
        await migrations.downgrade(db, before, directory, revision="-1")
        await verify_before(db, before)
        await migrations.migrate(db, after, directory)
        await verify_after(db, after)
        await migrations.check(db, after, directory)
        return path.read_text()


def _model(models: orm.ModelRegistry, name: str) -> type[orm.Model]:
    model = models.get_model(name)
    assert model is not None
    return model


async def test_string_to_text(private_database_url: str, tmp_path: Path) -> None:
    """PostgreSQL used to keep varchar(20) (the orm's Text was VARCHAR there) and agree."""

    def notes(text: bool) -> orm.ModelRegistry:
        models = orm.ModelRegistry()

        class Note(orm.Model):
            registry = models
            body = orm.Text() if text else orm.String(max_length=20)

        return models

    async def seed(db: Database, models: orm.ModelRegistry) -> None:
        await _model(models, "Note").objects.create(body="short")

    async def long_fits(db: Database, models: orm.ModelRegistry) -> None:
        note = _model(models, "Note")
        await note.objects.create(body="x" * 4000)
        assert sorted(len(n.body) for n in await note.objects.all()) == [5, 4000]
        await note.objects.filter(body="x" * 4000).delete()

    async def short_again(db: Database, models: orm.ModelRegistry) -> None:
        assert [n.body for n in await _model(models, "Note").objects.all()] == ["short"]

    await _lifecycle(
        private_database_url, tmp_path, notes(False), notes(True), seed, long_fits, short_again
    )


def _library(
    *, author_fk: str | None = "author", big_keys: bool = False, fk_null: bool = False
) -> orm.ModelRegistry:
    models = orm.ModelRegistry()
    key = orm.BigInteger if big_keys else orm.Integer

    class Author(orm.Model):
        registry = models
        tablename = "authors"
        id = key(primary_key=True)
        name = orm.String(max_length=50, index=True)

    namespace: dict[str, Any] = {
        "registry": models,
        "tablename": "books",
        "title": orm.String(max_length=50),
    }
    if author_fk is not None:
        namespace[author_fk] = orm.ForeignKey(
            Author, related_name="books", on_delete=orm.CASCADE, null=fk_null
        )
    type("Book", (orm.Model,), namespace)
    return models


async def _two_books(db: Database, models: orm.ModelRegistry) -> None:
    await db.execute("INSERT INTO authors (id, name) VALUES (1, 'Ann'), (2, 'Bob')")
    await db.execute("INSERT INTO books (title, author_id) VALUES ('A', 1), ('B', 2)")


async def test_removing_a_foreign_key_field(private_database_url: str, tmp_path: Path) -> None:
    """MySQL refused to drop the index before the foreign key that needs it."""

    async def gone(db: Database, models: orm.ModelRegistry) -> None:
        assert sorted(b.title for b in await _model(models, "Book").objects.all()) == ["A", "B"]

    async def back_empty(db: Database, models: orm.ModelRegistry) -> None:
        rows = await db.fetch_all("SELECT title, author_id FROM books ORDER BY title")
        assert [tuple(r) for r in rows] == [("A", None), ("B", None)]  # the keys are lost

    source = await _lifecycle(
        private_database_url,
        tmp_path,
        _library(fk_null=True),
        _library(author_fk=None),
        _two_books,
        gone,
        back_empty,
    )
    assert source.index("drop_constraint") < source.index("drop_index")


async def test_renaming_a_foreign_key_column(private_database_url: str, tmp_path: Path) -> None:
    """MySQL committed the CHANGE and then failed on the index; SQLite failed on the index."""

    async def renamed(db: Database, models: orm.ModelRegistry) -> None:
        rows = await db.fetch_all("SELECT title, writer_id FROM books ORDER BY title")
        assert [tuple(r) for r in rows] == [("A", 1), ("B", 2)]
        books = await _model(models, "Book").objects.filter(writer__name="Bob").all()
        assert [b.title for b in books] == ["B"]

    async def original(db: Database, models: orm.ModelRegistry) -> None:
        rows = await db.fetch_all("SELECT title, author_id FROM books ORDER BY title")
        assert [tuple(r) for r in rows] == [("A", 1), ("B", 2)]

    source = await _lifecycle(
        private_database_url,
        tmp_path,
        _library(),
        _library(author_fk="writer"),
        _two_books,
        renamed,
        original,
        renames=["books.author_id:writer_id"],
    )
    assert "new_column_name='writer_id'" in source
    assert "ix_books_writer_id" in source and "fk_books_writer_id_authors" in source


@pytest.mark.backends("postgresql", "mysql")  # SQLite: both are INTEGER, nothing to migrate
async def test_a_referenced_key_becomes_bigint(private_database_url: str, tmp_path: Path) -> None:
    """MySQL refused to change a column a foreign key points to (1833)."""
    big = 2**40

    async def bigger(db: Database, models: orm.ModelRegistry) -> None:
        author = await _model(models, "Author").objects.create(id=big, name="Big")
        await _model(models, "Book").objects.create(title="C", author=author)
        assert await db.fetch_val("SELECT count(*) FROM books WHERE author_id = :k", {"k": big})
        await db.execute("DELETE FROM authors WHERE id = :k", {"k": big})  # cascades
        assert await db.fetch_val("SELECT count(*) FROM books") == 2

    async def original(db: Database, models: orm.ModelRegistry) -> None:
        assert await db.fetch_val("SELECT count(*) FROM books") == 2

    source = await _lifecycle(
        private_database_url,
        tmp_path,
        _library(),
        _library(big_keys=True),
        _two_books,
        bigger,
        original,
    )
    upgrade = source.split("def downgrade")[0]
    assert upgrade.index("drop_constraint") < upgrade.index("alter_column('authors'")
    assert upgrade.index("alter_column('books'") < upgrade.index("create_foreign_key")


@pytest.mark.backends("sqlite")
async def test_sqlite_has_nothing_to_do_for_bigint_keys(
    private_database_url: str, tmp_path: Path
) -> None:
    directory = migrations.init(tmp_path / "db_migrations")
    await migrations.makemigrations(private_database_url, _library(), directory, message="a")
    await migrations.migrate(private_database_url, None, directory)
    bigger = _library(big_keys=True)
    assert (
        await migrations.makemigrations(private_database_url, bigger, directory, message="b")
        is None
    )
    await migrations.check(private_database_url, bigger, directory)


def _people(column: str) -> orm.ModelRegistry:
    models = orm.ModelRegistry()

    class Team(orm.Model):
        registry = models
        tablename = "teams"
        name = orm.String(max_length=20)

    namespace: dict[str, Any] = {
        "registry": models,
        "tablename": "people",
        column: orm.String(max_length=20, index=True),
        "team": orm.ForeignKey(Team, related_name="people", null=True, on_delete=orm.SET_NULL),
    }
    type("Person", (orm.Model,), namespace)
    return models


async def test_renaming_an_indexed_column(private_database_url: str, tmp_path: Path) -> None:
    """SQLite failed on rename + new index in one batch, and on every rename's downgrade."""

    async def seed(db: Database, models: orm.ModelRegistry) -> None:
        await db.execute("INSERT INTO teams (name) VALUES ('red')")
        await db.execute("INSERT INTO people (fullname, team_id) VALUES ('Ann Lee', 1)")

    async def renamed(db: Database, models: orm.ModelRegistry) -> None:
        person = await _model(models, "Person").objects.select_related("team").get()
        assert (person.name, person.team.name) == ("Ann Lee", "red")

    async def original(db: Database, models: orm.ModelRegistry) -> None:
        assert await db.fetch_val("SELECT fullname FROM people") == "Ann Lee"

    source = await _lifecycle(
        private_database_url,
        tmp_path,
        _people("fullname"),
        _people("name"),
        seed,
        renamed,
        original,
        renames=["people.fullname:name"],
    )
    assert "orm.types" not in source.split("def downgrade")[1]  # plain types where Alembic reads


def _writers(table: str, column: str, *, email: bool = False) -> orm.ModelRegistry:
    models = orm.ModelRegistry()
    namespace: dict[str, Any] = {
        "registry": models,
        "tablename": table,
        column: orm.String(max_length=20, unique=True),
        "mentor": orm.ForeignKey(
            "Author", related_name="mentees", null=True, on_delete=orm.SET_NULL
        ),
    }
    if email:
        namespace["email"] = orm.String(max_length=50, null=True)
    author_model = type("Author", (orm.Model,), namespace)

    class Book(orm.Model):
        registry = models
        tablename = "books"
        title = orm.String(max_length=20)
        author = orm.ForeignKey(author_model, related_name="books", on_delete=orm.CASCADE)

    return models


async def test_renaming_a_table(private_database_url: str, tmp_path: Path) -> None:
    """A renamed model (table) keeps its rows, its foreign keys in and out, and changes more."""

    async def seed(db: Database, models: orm.ModelRegistry) -> None:
        await db.execute("INSERT INTO authors (id, name) VALUES (1, 'Ann')")
        await db.execute("INSERT INTO authors (id, name, mentor_id) VALUES (2, 'Bob', 1)")
        await db.execute("INSERT INTO books (title, author_id) VALUES ('T', 2)")

    async def renamed(db: Database, models: orm.ModelRegistry) -> None:
        book = await _model(models, "Book").objects.select_related("author").get()
        assert (book.author.pen_name, book.author.email) == ("Bob", None)
        assert await _model(models, "Author").objects.filter(mentor__pen_name="Ann").count() == 1

    async def original(db: Database, models: orm.ModelRegistry) -> None:
        rows = await db.fetch_all("SELECT id, name, mentor_id FROM authors ORDER BY id")
        assert [tuple(r) for r in rows] == [(1, "Ann", None), (2, "Bob", 1)]

    source = await _lifecycle(
        private_database_url,
        tmp_path,
        _writers("authors", "name"),
        _writers("writers", "pen_name", email=True),
        seed,
        renamed,
        original,
        renames=["authors=writers", "writers.name:pen_name"],
    )
    assert "op.rename_table('authors', 'writers')" in source
    assert "drop_table" not in source
    assert "uq_writers_pen_name" in source


def _bookings(with_meta: bool) -> orm.ModelRegistry:
    models = orm.ModelRegistry()
    namespace: dict[str, Any] = {
        "registry": models,
        "tablename": "bookings",
        "room": orm.String(max_length=10),
        "day": orm.Date(),
        "nights": orm.Integer(),
    }
    if with_meta:
        namespace["Meta"] = type(
            "Meta",
            (),
            {
                "unique_together": [("room", "day")],
                "indexes": [orm.Index("day", "nights")],
                "constraints": [orm.CheckConstraint(check=orm.Q(nights__gt=0), name="nights")],
            },
        )
    type("Booking", (orm.Model,), namespace)
    return models


async def test_composite_constraints_and_indexes(private_database_url: str, tmp_path: Path) -> None:
    day = dt.date(2025, 5, 1)

    async def seed(db: Database, models: orm.ModelRegistry) -> None:
        await _model(models, "Booking").objects.create(room="A", day=day, nights=2)

    async def enforced(db: Database, models: orm.ModelRegistry) -> None:
        booking = _model(models, "Booking")
        with pytest.raises(IntegrityError):
            await booking.objects.create(room="A", day=day, nights=1)
        with pytest.raises(IntegrityError):
            await booking.objects.create(room="B", day=day, nights=0)
        assert await booking.objects.count() == 1

    async def free(db: Database, models: orm.ModelRegistry) -> None:
        booking = _model(models, "Booking")
        await booking.objects.create(room="A", day=day, nights=0)
        await booking.objects.filter(nights=0).delete()

    source = await _lifecycle(
        private_database_url, tmp_path, _bookings(False), _bookings(True), seed, enforced, free
    )
    for expected in ("uq_bookings_room_day", "ix_bookings_day_nights", "ck_bookings_nights"):
        assert expected in source


async def test_adopting_through_the_command_line(project: Project) -> None:
    """Both messages name --fake-initial; it adopts, and the next revision applies."""
    project.write_models(MODELS_V1)
    project.cli("init")
    async with Database(project.url) as db:
        await db.execute(
            "CREATE TABLE authors (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(50) NOT NULL, "
            "bio TEXT NOT NULL, CONSTRAINT uq_authors_name UNIQUE (name))"
        )
        await db.execute("INSERT INTO authors (id, name, bio) VALUES (1, 'Ann', 'x')")
    made = project.cli("makemigrations", "-m", "initial")
    assert made.stderr.splitlines() == [
        "warning: the database already has table(s) authors, which this initial revision "
        "creates: if they match the models, run `migrate --fake-initial` to record the "
        "revision as applied without running it"
    ]
    line = project.fail("migrate")
    assert line.startswith("error: the database already has table(s) authors, which the ")
    assert line.endswith(
        "run `migrate --fake-initial` to record that revision as applied without running it"
    )
    assert "Marked" in project.cli("migrate", "--fake-initial").stdout
    assert "agree" in project.cli("check").stdout
    project.write_models(MODELS_V3.split("books = ")[0].replace("import app_types", ""))
    project.make("-m", "email")
    assert "Applied" in project.cli("migrate", "--fake-initial").stdout
    assert await project.sql("SELECT name, email FROM authors") == [("Ann", None)]


@pytest.mark.backends("postgresql")
async def test_alembic_warnings_are_one_line(project: Project) -> None:
    """Alembic warns (UserWarning) on PostgreSQL about a primary key's autoincrement option."""
    project.write_models(
        'sa.Table("things", metadata, sa.Column("id", sa.Integer, primary_key=True))\n'
    )
    project.cli("init")
    project.make("-m", "things")
    project.cli("migrate")
    project.write_models(
        'sa.Table("things", metadata, sa.Column("id", sa.BigInteger, primary_key=True))\n'
    )
    project.make("-m", "bigger")
    result = project.cli("migrate")
    assert result.stderr.splitlines() == [
        "warning: autoincrement and existing_autoincrement only make sense for MySQL"
    ]


def _stays(column: str) -> orm.ModelRegistry:
    models = orm.ModelRegistry()
    check = orm.CheckConstraint(check=orm.Q(**{f"{column}__gt": 0}), name="positive")
    namespace: dict[str, Any] = {
        "registry": models,
        "tablename": "stays",
        column: orm.Integer(),
        "Meta": type("Meta", (), {"constraints": [check]}),
    }
    type("Stay", (orm.Model,), namespace)
    return models


async def test_renaming_a_column_a_check_constraint_uses(
    private_database_url: str, tmp_path: Path
) -> None:
    """SQLite's table copy kept the old column name in the check: it is recreated around."""

    async def seed(db: Database, models: orm.ModelRegistry) -> None:
        await db.execute("INSERT INTO stays (nights) VALUES (2)")

    async def renamed(db: Database, models: orm.ModelRegistry) -> None:
        assert await db.fetch_val("SELECT nights_count FROM stays") == 2
        with pytest.raises(IntegrityError):
            await _model(models, "Stay").objects.create(nights_count=0)

    async def original(db: Database, models: orm.ModelRegistry) -> None:
        assert await db.fetch_val("SELECT nights FROM stays") == 2
        with pytest.raises(IntegrityError):
            await db.execute("INSERT INTO stays (nights) VALUES (0)")

    source = await _lifecycle(
        private_database_url,
        tmp_path,
        _stays("nights"),
        _stays("nights_count"),
        seed,
        renamed,
        original,
        renames=["stays.nights:nights_count"],
    )
    upgrade = source.split("def downgrade")[0]
    assert upgrade.index("drop_constraint") < upgrade.index("new_column_name")
    assert upgrade.index("new_column_name") < upgrade.index("create_check_constraint")
