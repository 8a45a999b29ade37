"""A pytest plugin for projects built on asyncdb, orm and migrations.

Installed with the package and loaded automatically (``pytest11`` entry point ``asyncdb``;
disable it with ``-p no:asyncdb``). It gives each test a connected ``asyncdb.Database`` whose
changes are rolled back when the test ends, with the schema created once per session from an
``orm.ModelRegistry`` or by running migrations. See ``docs/testing.md``.

Fixtures (all overridable in a ``conftest.py``):

* ``asyncdb_database`` — per test: a connected ``Database(url, force_rollback=True)``; the
  registry's models query it for the test's duration.
* ``asyncdb_models`` — per test: the registry, bound to ``asyncdb_database``.
* ``asyncdb_url`` — session: the URL (``--asyncdb-url``, ``$ASYNCDB_TEST_URL``, the
  ``asyncdb_url`` ini option, then ``$DATABASE_URL``); with ``--asyncdb-create-db``, a new
  database on that server for this session, dropped at its end.
* ``asyncdb_registry`` — session: the ``orm.ModelRegistry``, or several (ini
  ``asyncdb_registry``).
* ``asyncdb_migrations_dir`` — session: the migrations folder (ini ``asyncdb_migrations_dir``).
* ``asyncdb_schema`` — session: creates the schema; removes what it added at the end.

This package sits above ``asyncdb``, ``orm`` and ``migrations``; none of them imports it.
"""

__all__: list[str] = []
