"""Migrations attacked the way a team running production services would: an app evolving over
a dozen revisions with rows in every table, a custom version table, names at the databases'
identifier limits, keys renamed by hand, ``sqlmigrate`` output run on the server itself, check
constraints and enum types across backends, server defaults as databases rewrite them, and a
``migrate`` cancelled half-way through a revision."""

from __future__ import annotations

import asyncio
import enum
import logging
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import migrations
import orm
from asyncdb import Database, IntegrityError
from migrations import MigrationError
from migrations.config import sqlalchemy_url


class Status(enum.Enum):
    draft = 1
    published = 2


def _blog(version: int) -> orm.ModelRegistry:
    """The blog's models at ``version`` (1 to 14): each version changes something."""
    models = orm.ModelRegistry()

    class Author(orm.Model):
        registry = models
        tablename = "authors"
        id = (orm.BigInteger if version >= 14 else orm.Integer)(primary_key=True)
        if version >= 4:
            full_name = orm.String(max_length=20, unique=True)
        else:
            name = orm.String(max_length=20, unique=True)

    tag = type(
        "Label" if version >= 11 else "Tag",
        (orm.Model,),
        {
            "registry": models,
            "tablename": "labels" if version >= 11 else "tags",
            "name": orm.String(max_length=20, index=True),
        },
    )
    key = "writer" if version >= 6 else "author"
    post: dict[str, Any] = {
        "registry": models,
        "tablename": "articles" if version >= 12 else "posts",
        "title": orm.String(max_length=50),
        "body": orm.Text(null=version < 3, default=""),
        key: orm.ForeignKey(Author, related_name="posts", on_delete=orm.CASCADE),
    }
    if version >= 2:
        post["tags"] = orm.ManyToMany(tag, related_name="posts")
        post["status"] = orm.Enum(Status, default=Status.draft)
    if 2 <= version < 13:
        post["editor"] = orm.ForeignKey(
            Author, related_name="edited", null=True, on_delete=orm.SET_NULL
        )
    score = "score" if version >= 8 else "rating"
    if 7 <= version < 9:
        post[score] = orm.Integer(default=1, null=True)
    meta: dict[str, Any] = {}
    if 5 <= version < 10:
        meta["unique_together"] = [(key, "title")]
        meta["indexes"] = [orm.Index("title", "status")]
    if 7 <= version < 9:
        meta["constraints"] = [orm.CheckConstraint(check=orm.Q(**{f"{score}__gt": 0}), name="pos")]
    if meta:
        post["Meta"] = type("Meta", (), meta)
    type("Article" if version >= 12 else "Post", (orm.Model,), post)
    if version >= 13:  # a new model under a renamed table's old name

        class Post(orm.Model):
            registry = models
            tablename = "posts"
            title = orm.String(max_length=20)
            writer = orm.ForeignKey(Author, related_name="notes", on_delete=orm.CASCADE)

    return models


#: What each version renames (the rest is detected on its own).
BLOG_RENAMES: dict[int, list[str]] = {
    4: ["authors.name:full_name"],
    6: ["posts.author_id:writer_id"],
    8: ["posts.rating:score"],
    11: ["tags=labels", "posts_tags.tag_id:label_id"],
    12: ["posts=articles", "posts_tags=articles_tags", "articles_tags.post_id:article_id"],
}


def _model(models: orm.ModelRegistry, name: str) -> Any:
    model = models.get_model(name)
    assert model is not None
    return model


async def _rows(db: Database, query: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in await db.fetch_all(query)]


async def test_an_app_evolving_over_many_revisions(
    backend: str, private_database_url: str, tmp_path: Path
) -> None:
    """Each version applied with rows in every table, ``check`` clean after each; then every
    revision reverted one by one, all applied again, reverted to base and applied again.

    It used to break at: a nullable body made NOT NULL while a row holds NULL (no value was
    filled in from the field's default); a table rename leaving ``pk_posts`` and
    ``fk_posts_...`` behind, so a new table of the old name collided with the leftovers
    (PostgreSQL primary keys, MySQL foreign keys).
    """
    directory = migrations.init(tmp_path / "db_migrations")
    async with Database(private_database_url) as db:
        await migrations.makemigrations(db, _blog(1), directory, message="v1")
        await migrations.migrate(db, None, directory)
        await db.execute("INSERT INTO authors (id, name) VALUES (1, 'Ann'), (2, 'Bob')")
        await db.execute("INSERT INTO tags (id, name) VALUES (1, 'red'), (2, 'blue')")
        await db.execute(
            "INSERT INTO posts (id, title, author_id, body) VALUES (1, 'P1', 1, NULL), "
            "(2, 'P2', 2, 'text')"
        )
        for version in range(2, 15):
            models = _blog(version)
            models.database = db
            written = await migrations.makemigrations(
                db, models, directory, message=f"v{version}", renames=BLOG_RENAMES.get(version, ())
            )
            assert written is not None or (version == 14 and backend == "sqlite")
            await migrations.migrate(db, None, directory)
            await migrations.check(db, models, directory)
            if backend == "sqlite":  # the asyncdb connection enforces foreign keys
                assert await db.fetch_all("PRAGMA foreign_key_check") == []
            if version == 2:
                await db.execute(
                    "INSERT INTO posts_tags (post_id, tag_id) VALUES (1, 1), (1, 2), (2, 1)"
                )
                await db.execute("UPDATE posts SET editor_id = 2")
            if version == 3:
                assert await _rows(db, "SELECT id, body FROM posts ORDER BY id") == [
                    (1, ""),
                    (2, "text"),
                ]
            if version == 7:
                with pytest.raises(IntegrityError):
                    await _model(models, "Post").objects.create(title="P3", writer_id=1, rating=0)
        models = _blog(14)
        models.database = db
        article = await _model(models, "Article").objects.select_related("writer").get(id=1)
        assert (article.body, article.writer.full_name, article.status) == ("", "Ann", Status.draft)
        red = await _model(models, "Article").objects.filter(tags__name="red").count()
        assert red == 2
        await _model(models, "Post").objects.create(title="new", writer_id=2)

        revisions = len(await migrations.showmigrations(db, directory))
        for _ in range(revisions - 1):
            await migrations.downgrade(db, None, directory, revision="-1")
        assert await _rows(db, "SELECT id, name FROM authors ORDER BY id") == [
            (1, "Ann"),
            (2, "Bob"),
        ]
        assert await _rows(db, "SELECT id, title, author_id, body FROM posts ORDER BY id") == [
            (1, "P1", 1, ""),
            (2, "P2", 2, "text"),
        ]
        await migrations.migrate(db, None, directory)
        await migrations.check(db, models, directory)
        assert [a.title for a in await _model(models, "Article").objects.order_by("id")] == [
            "P1",
            "P2",
        ]
        await migrations.downgrade(db, None, directory, revision="base")
        await migrations.migrate(db, None, directory)
        await migrations.check(db, models, directory)


def _things(version: int) -> sa.MetaData:
    metadata = sa.MetaData(naming_convention={"pk": "pk_%(table_name)s"})
    sa.Table("things", metadata, sa.Column("id", sa.Integer, primary_key=True))
    if version >= 2:
        sa.Table("more", metadata, sa.Column("id", sa.Integer, primary_key=True))
    return metadata


async def test_a_version_table_named_in_env_py(private_database_url: str, tmp_path: Path) -> None:
    """``run_environment(version_table=...)`` counts for ``showmigrations`` and ``migrate`` too:
    they read ``alembic_version`` instead, so every revision looked unapplied and the second
    ``migrate`` refused to run over the tables of the first."""
    directory = migrations.init(tmp_path / "db_migrations")
    env = directory / "env.py"
    env.write_text(
        env.read_text().replace("run_environment()", 'run_environment(version_table="app_revs")')
    )
    url = private_database_url
    await migrations.makemigrations(url, _things(1), directory, message="one")
    assert [step.message for step in await migrations.migrate(url, None, directory)] == ["one"]
    assert [s.applied for s in await migrations.showmigrations(url, directory)] == [True]
    await migrations.makemigrations(url, _things(2), directory, message="two")
    assert [step.message for step in await migrations.migrate(url, None, directory)] == ["two"]
    await migrations.check(url, _things(2), directory)
    await migrations.downgrade(url, None, directory, revision="base")
    assert [s.applied for s in await migrations.showmigrations(url, directory)] == [False, False]
    assert len(await migrations.migrate(url, None, directory)) == 2


def _limits(table: str, check: str) -> orm.ModelRegistry:
    models = orm.ModelRegistry()
    namespace: dict[str, Any] = {
        "registry": models,
        "tablename": table,
        "amount": orm.Integer(db_column="a" * len(table)),
        "Meta": type(
            "Meta",
            (),
            {"constraints": [orm.CheckConstraint(check=orm.Q(amount__gte=0), name=check)]},
        ),
    }
    type("Limit", (orm.Model,), namespace)
    return models


async def test_names_at_the_identifier_limit(
    backend: str, private_database_url: str, tmp_path: Path
) -> None:
    """A table and column name as long as the database allows works, and a check constraint
    whose convention name is longer (the database shortens it) is not seen as dropped and
    added after every ``migrate``. On PostgreSQL, one character more is refused before anything
    is written: it used to cut the name short silently, and then drop and create the table."""
    limit = {"postgresql": 63, "mysql": 64}.get(backend, 64)
    directory = migrations.init(tmp_path / "db_migrations")
    async with Database(private_database_url) as db:
        models = _limits("t" * limit, "c" * 40)
        models.database = db
        await migrations.makemigrations(db, models, directory, message="long")
        await migrations.migrate(db, None, directory)
        await migrations.check(db, models, directory)
        assert await migrations.makemigrations(db, models, directory, message="again") is None
        with pytest.raises(IntegrityError):
            await _model(models, "Limit").objects.create(amount=-1)
        await migrations.downgrade(db, None, directory, revision="base")
        await migrations.migrate(db, None, directory)
        await migrations.check(db, models, directory)
        if backend == "postgresql":  # MySQL refuses a longer name itself, SQLite has no limit
            too_long = _limits("u" * (limit + 1), "x")
            with pytest.raises(MigrationError, match=f"is {limit + 1} characters long, and "):
                await migrations.makemigrations(db, too_long, directory, message="longer")
            with pytest.raises(MigrationError, match=f"{backend} allows {limit}: shorten"):
                await migrations.check(db, too_long, directory)
        assert len(await migrations.showmigrations(db, directory)) == 1


def _shelf(with_key: bool) -> orm.ModelRegistry:
    models = orm.ModelRegistry()

    class Shelf(orm.Model):
        registry = models
        tablename = "shelves"
        id = (orm.BigInteger if with_key else orm.Integer)(primary_key=True)

    class Box(orm.Model):
        registry = models
        tablename = "boxes"
        shelf = orm.ForeignKey(Shelf, related_name="boxes", on_delete=orm.CASCADE)

    return models


@pytest.mark.backends("postgresql", "mysql")  # SQLite: both are INTEGER, nothing to migrate
async def test_a_key_renamed_by_hand(private_database_url: str, tmp_path: Path) -> None:
    """A foreign key that does not have its convention name (renamed by hand, an adopted
    database) is dropped and created again around a key type change, and the downgrade finds
    it: it used to be recreated under its old name and the downgrade dropped the model's."""
    directory = migrations.init(tmp_path / "db_migrations")
    async with Database(private_database_url) as db:
        await migrations.makemigrations(db, _shelf(False), directory, message="shelves")
        await migrations.migrate(db, None, directory)
        await db.execute("INSERT INTO shelves (id) VALUES (1)")
        await db.execute("INSERT INTO boxes (shelf_id) VALUES (1)")
        if db.features.backend == "postgresql":
            await db.execute(
                "ALTER TABLE boxes RENAME CONSTRAINT fk_boxes_shelf_id_shelves TO boxes_shelf_fk"
            )
        else:
            await db.execute("ALTER TABLE boxes DROP FOREIGN KEY fk_boxes_shelf_id_shelves")
            await db.execute(
                "ALTER TABLE boxes ADD CONSTRAINT boxes_shelf_fk FOREIGN KEY (shelf_id) "
                "REFERENCES shelves (id) ON DELETE CASCADE"
            )
        await migrations.makemigrations(db, _shelf(True), directory, message="bigger")
        for _ in range(2):
            await migrations.migrate(db, None, directory)
            await migrations.check(db, _shelf(True), directory)
            await db.execute("DELETE FROM shelves")  # cascades: the key is back
            assert await db.fetch_val("SELECT count(*) FROM boxes") == 0
            await db.execute("INSERT INTO shelves (id) VALUES (1)")
            await db.execute("INSERT INTO boxes (shelf_id) VALUES (1)")
            await migrations.downgrade(db, None, directory, revision="-1")
            await db.execute("DELETE FROM shelves")
            assert await db.fetch_val("SELECT count(*) FROM boxes") == 0
            await db.execute("INSERT INTO shelves (id) VALUES (1)")


def _notes(version: int) -> orm.ModelRegistry:
    models = orm.ModelRegistry()

    class Note(orm.Model):
        registry = models
        tablename = "notes"
        title = orm.String(max_length=20, null=version < 2, default="it's 50%")

    return models


async def test_sqlmigrate_prints_sql_the_server_runs(
    private_database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The SQL of ``sqlmigrate`` is for the database's own server, and does what the revision
    does when run there: MariaDB was given MySQL's ``utf8mb4_0900_bin`` collation, which it does
    not have. Unreachable, the SQL is rendered for the URL's dialect, with a warning."""
    directory = migrations.init(tmp_path / "db_migrations")
    url = private_database_url
    await migrations.makemigrations(url, _notes(1), directory, message="notes")
    sql = await migrations.sqlmigrate(url, directory, revision="head")
    create = next(part for part in sql.split(";") if "CREATE TABLE notes" in part)
    async with Database(url) as db:
        await db.execute(create)  # the server accepts what sqlmigrate printed
        await db.execute("DROP TABLE notes")
    await migrations.migrate(url, None, directory)
    await migrations.makemigrations(url, _notes(2), directory, message="required")
    if sa.make_url(sqlalchemy_url(url)).get_backend_name() != "sqlite":  # batch needs the table
        sql = await migrations.sqlmigrate(url, directory, revision="head")
        fill = next(part for part in sql.split(";") if "UPDATE notes" in part)
        async with Database(url) as db:
            await db.execute("INSERT INTO notes (title) VALUES (NULL)")
            await db.execute(fill)  # no doubled % (MySQL's driver escaping) in what it printed
            assert await db.fetch_val("SELECT title FROM notes") == "it's 50%"
    unreachable = "postgresql://nobody:secret@127.0.0.1:1/none"
    with caplog.at_level(logging.WARNING, logger="migrations"):
        sql = await migrations.sqlmigrate(unreachable, directory, revision="head")
    assert "ALTER TABLE notes ALTER COLUMN title SET NOT NULL" in sql
    assert "the SQL is rendered for a default postgresql server instead" in caplog.text
    assert "secret" not in caplog.text


def _labels(version: int) -> orm.ModelRegistry:
    models = orm.ModelRegistry()
    checks = [
        orm.CheckConstraint(
            check=orm.Q(name__startswith="50%'s") | orm.Q(name__contains='x"y\\z'), name="pct"
        )
    ]
    if version >= 2:  # added to the existing table: op.create_check_constraint
        checks.append(orm.CheckConstraint(check=orm.Q(name__endswith="k"), name="k"))
    namespace: dict[str, Any] = {
        "registry": models,
        "tablename": "labels",
        "name": orm.String(max_length=20),
        "Meta": type("Meta", (), {"constraints": checks}),
    }
    type("Label", (orm.Model,), namespace)
    return models


async def test_check_constraints_are_written_for_every_backend(
    private_database_url: str, tmp_path: Path
) -> None:
    """A check's condition is SQL of each database's own (``startswith`` is a byte comparison
    on SQLite): a revision made on SQLite failed on the servers, and one made on MySQL held
    doubled ``%`` signs, so MySQL accepted ``50%XYZ's`` as starting with ``50%'s``."""
    scratch = f"sqlite:///{tmp_path / 'scratch.db'}"
    for generated_on in (private_database_url, scratch):
        directory = migrations.init(tmp_path / f"revisions_{generated_on == scratch}")
        for version in (1, 2):
            await migrations.makemigrations(
                generated_on, _labels(version), directory, message=f"v{version}"
            )
            await migrations.migrate(generated_on, None, directory)
        if generated_on == scratch:
            await migrations.migrate(private_database_url, None, directory)
        async with Database(private_database_url) as db:
            models = _labels(2)
            models.database = db
            await migrations.check(db, models, directory)
            label = _model(models, "Label")
            await label.objects.create(name="50%'s book")
            await label.objects.create(name='ax"y\\zk')
            for wrong in ("50%XYZ's book", 'ax"y\\\\zk', "50%'s box"):
                with pytest.raises(IntegrityError):
                    await label.objects.create(name=wrong)
        await migrations.downgrade(private_database_url, None, directory, revision="base")


def _tickets(values: tuple[str, ...]) -> sa.MetaData:
    metadata = sa.MetaData(naming_convention={"pk": "pk_%(table_name)s"})
    state = sa.Enum(*values, name="ticket_state")
    sa.Table(
        "tickets",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("state", state, nullable=False, server_default="open"),
        sa.Column("previous", state, nullable=True),
    )
    return metadata


@pytest.mark.backends("postgresql")  # MySQL's ENUM(...) is a column type, SQLite's a VARCHAR
async def test_values_of_a_named_enum_type(private_database_url: str, tmp_path: Path) -> None:
    """A value added to (or removed from) a PostgreSQL enum type used to go unseen: ``check``
    agreed and inserting the new value failed."""
    directory = migrations.init(tmp_path / "db_migrations")
    url = private_database_url
    first = _tickets(("open", "closed"))
    await migrations.makemigrations(url, first, directory, message="tickets")
    await migrations.migrate(url, None, directory)
    async with Database(url) as db:
        await db.execute("INSERT INTO tickets (id, previous) VALUES (1, 'closed')")
    more = _tickets(("new", "open", "waiting", "closed", "reopened"))
    with pytest.raises(migrations.SchemaDiffers, match="modify enum values 'ticket_state'"):
        await migrations.check(url, more, directory)
    await migrations.makemigrations(url, more, directory, message="more states")
    assert "ADD VALUE IF NOT EXISTS 'waiting' BEFORE 'closed'" in (
        await migrations.sqlmigrate(url, directory, revision="head")
    )
    fewer = _tickets(("closed", "open", "archived"))  # values dropped, one added, reordered
    for _ in range(2):
        await migrations.migrate(url, None, directory)
        await migrations.check(url, more, directory)
        async with Database(url) as db:
            await db.execute("INSERT INTO tickets (id, state) VALUES (2, 'reopened')")
            await db.execute("DELETE FROM tickets WHERE id = 2")
        await migrations.makemigrations(url, fewer, directory, message="fewer")
        await migrations.migrate(url, None, directory)
        await migrations.check(url, fewer, directory)
        async with Database(url) as db:
            assert await db.fetch_val("SELECT state FROM tickets WHERE previous = 'closed'") == (
                "open"
            )
            await db.execute("INSERT INTO tickets (id, state) VALUES (3, 'archived')")
            with pytest.raises(MigrationError, match="invalid input value for enum"):
                await migrations.downgrade(url, None, directory, revision="-1")
            await db.execute("DELETE FROM tickets WHERE id = 3")
        await migrations.downgrade(url, None, directory, revision="-2")
        for path in (directory / "versions").glob("*fewer.py"):
            path.unlink()


def _defaults(version: int) -> sa.MetaData:
    metadata = sa.MetaData(naming_convention={"pk": "pk_%(table_name)s"})
    first = version == 1
    sa.Table(
        "settings",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "at",
            sa.DateTime,
            server_default=sa.func.now() if first else sa.text("'2020-01-01 00:00:00'"),
        ),
        sa.Column("code", sa.String(10), server_default="abc" if first else "ABC"),
        sa.Column(
            "on", sa.Boolean, nullable=False, server_default=sa.false() if first else sa.true()
        ),
        sa.Column("rate", sa.Numeric(5, 2), server_default=sa.text("1.50" if first else "2.50")),
        sa.Column("count", sa.Integer, server_default="0" if first else "1"),
        sa.Column("quote", sa.String(10), server_default="it's" if first else "it is"),
        sa.Column("pad", sa.String(10), server_default="x" if first else "x "),
    )
    return metadata


async def test_server_defaults_are_compared_by_value(
    private_database_url: str, tmp_path: Path
) -> None:
    """Right after ``migrate``, ``check`` reported MariaDB's ``current_timestamp()`` for
    ``now()``, ``0`` for ``false`` and an apostrophe as differences, SQLite's apostrophe too,
    and failed on PostgreSQL (the models' apostrophe unescaped). Real changes, down to the case
    of a letter and a trailing space, are still seen."""
    directory = migrations.init(tmp_path / "db_migrations")
    url = private_database_url
    await migrations.makemigrations(url, _defaults(1), directory, message="settings")
    await migrations.migrate(url, None, directory)
    await migrations.check(url, _defaults(1), directory)
    assert await migrations.makemigrations(url, _defaults(1), directory, message="x") is None
    with pytest.raises(migrations.SchemaDiffers) as differs:
        await migrations.check(url, _defaults(2), directory)
    changed = ["at", "code", "on", "rate", "count", "quote", "pad"]
    assert sorted(differs.value.diffs) == sorted(f"modify default 'settings.{c}'" for c in changed)
    await migrations.makemigrations(url, _defaults(2), directory, message="changed")
    for _ in range(2):
        await migrations.migrate(url, None, directory)
        await migrations.check(url, _defaults(2), directory)
        await migrations.downgrade(url, None, directory, revision="-1")
    async with Database(url) as db:
        await db.execute("INSERT INTO settings (id) VALUES (1)")
        row = await db.fetch_one("SELECT code, quote, count FROM settings")
        assert row is not None and tuple(row) == ("abc", "it's", 0)


def _people(version: int) -> sa.MetaData:
    metadata = sa.MetaData(naming_convention={"pk": "pk_%(table_name)s"})
    columns = [sa.Column("nick", sa.String(10)), sa.Column("age", sa.Integer)]
    sa.Table("people", metadata, sa.Column("id", sa.Integer, primary_key=True), *columns[:version])
    return metadata


async def test_a_migrate_cancelled_in_the_middle_of_a_revision(
    backend: str, private_database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Cancelled (Ctrl-C, a timeout) half-way through a revision: PostgreSQL and SQLite roll it
    back; MySQL keeps what ran, and a warning now says which statements (it said nothing, and
    the retry failed on a duplicate column)."""
    directory = migrations.init(tmp_path / "db_migrations")
    url = private_database_url
    await migrations.makemigrations(url, _people(0), directory, message="people")
    await migrations.migrate(url, None, directory)
    path = await migrations.makemigrations(url, _people(2), directory, message="nick and age")
    assert path is not None
    source = path.read_text()
    slow = "op.execute('SELECT 1')\n    import time\n    time.sleep(1)\n    op.execute('SELECT 1')"
    first, rest = source.split("def upgrade() -> None:\n", 1)
    # After the first add_column; on SQLite after the batch block that holds both.
    cut = rest.index("\n\n" if backend == "sqlite" else "\n    ", rest.index("add_column"))
    path.write_text(f"{first}def upgrade() -> None:\n{rest[:cut]}\n    {slow}{rest[cut:]}")
    with caplog.at_level(logging.WARNING, logger="migrations"), pytest.raises(TimeoutError):
        await asyncio.wait_for(migrations.migrate(url, None, directory), 0.5)
    statuses = await migrations.showmigrations(url, directory)
    assert [s.applied for s in statuses] == [True, False]
    async with Database(url) as db:
        columns = [c for c in ("nick", "age") if await _has_column(db, "people", c)]
        if backend == "mysql":
            assert columns == ["nick"]
            assert "was interrupted (the database commits each DDL statement at once: 1 " in (
                caplog.text
            )
            assert "ALTER TABLE people ADD COLUMN nick VARCHAR(10)" in caplog.text
            await db.execute("ALTER TABLE people DROP COLUMN nick")  # as the warning says
        else:
            assert columns == []
            assert "interrupted" not in caplog.text
    path.write_text(source)
    await migrations.migrate(url, None, directory)
    await migrations.check(url, _people(2), directory)


async def _has_column(db: Database, table: str, column: str) -> bool:
    try:
        await db.fetch_all(f"SELECT {column} FROM {table}")
    except Exception:
        return False
    return True
