"""The names ``migrations`` exports are the curated public API."""

from __future__ import annotations

import migrations


def test_exports() -> None:
    assert sorted(migrations.__all__) == [
        "AppliedRevision",
        "DEFAULT_DIRECTORY",
        "MigrationError",
        "MigrationStatus",
        "Rename",
        "SchemaDiffers",
        "check",
        "downgrade",
        "init",
        "makemigrations",
        "merge",
        "migrate",
        "run_environment",
        "showmigrations",
        "sqlmigrate",
    ]
    for name in migrations.__all__:
        assert getattr(migrations, name) is not None
    # Not ./migrations: a user's folder of that name can shadow this package.
    assert migrations.DEFAULT_DIRECTORY == "db_migrations"
