"""The floor: hand-written SQL on the raw driver of the backend (the project's venv).

PostgreSQL: asyncpg (:mod:`raw_asyncpg`); MariaDB: aiomysql (:mod:`raw_aiomysql`); SQLite:
aiosqlite (:mod:`raw_aiosqlite`). Each module registers its operations on import and holds one
connection per task (``POOL`` of them, never released); the gateway uses a pool (asyncpg's and
aiomysql's own; for aiosqlite, which has none, a queue of the held connections).
"""

from __future__ import annotations

import importlib

from _protocol import backend, serve

MODULES = {"postgresql": "raw_asyncpg", "mysql": "raw_aiomysql", "sqlite": "raw_aiosqlite"}
impl = importlib.import_module(MODULES[backend()])
setup, teardown, versions = impl.setup, impl.teardown, impl.versions

if __name__ == "__main__":
    serve(versions(), setup, teardown)
