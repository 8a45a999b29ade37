"""The whole everyday loop through the real command line, on every backend."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
