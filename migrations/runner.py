"""How one migration command runs Alembic: its ``Config``, a connection, and error translation.

Online commands open an async SQLAlchemy engine (``NullPool``: nothing outlives the command),
take one connection and run the Alembic command inside ``AsyncConnection.run_sync``, so they
work inside a running event loop. Every failure leaves as a one-line :class:`MigrationError`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import io
import logging
import os
import re
import tempfile
import time
import warnings
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import event
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from migrations.config import safe_url
from migrations.environment import STATE_KEY, EnvironmentState
from migrations.errors import MigrationError

__all__ = [
    "FILE_TEMPLATE",
    "CannotConnect",
    "VersionTable",
    "alembic_config",
    "describe",
    "read_version_table",
    "render_for_server",
    "run_offline",
    "run_online",
    "script_directory",
    "translate_errors",
]

T = TypeVar("T")
log = logging.getLogger("migrations")

# Revision files sort by creation time: 2026_11_21_141259-3f2a1b9c8d7e_add_books.py
FILE_TEMPLATE = (
    "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d%%(second).2d-%%(rev)s_%%(slug)s"
)


def alembic_config(
    directory: Path, state: EnvironmentState, *, output_buffer: io.StringIO | None = None
) -> Config:
    """An Alembic ``Config`` for the migrations folder ``directory`` (no ``alembic.ini``).

    Raise :class:`MigrationError` when ``directory`` holds no ``env.py`` (``init`` not run).
    """
    if not (directory / "env.py").is_file():
        raise MigrationError(
            f"no migrations folder at {directory} (no env.py): run `init` first, or pass --dir"
        )
    config = Config(
        output_buffer=output_buffer,
        stdout=io.StringIO(),  # Alembic's chatter; we report results ourselves
        cmd_opts=argparse.Namespace(quiet=True),
    )
    config.set_main_option("script_location", str(directory).replace("%", "%%"))
    config.set_main_option("file_template", FILE_TEMPLATE)
    config.attributes[STATE_KEY] = state
    return config


def script_directory(config: Config) -> ScriptDirectory:
    """The folder's revisions; raise :class:`MigrationError` when they cannot be read."""
    with translate_errors():
        return ScriptDirectory.from_config(config)


@dataclass(frozen=True)
class VersionTable:
    """Where the database records its applied revisions, and what it records."""

    name: str
    schema: str | None
    heads: tuple[str, ...]


def read_version_table(config: Config, scripts: ScriptDirectory) -> VersionTable:
    """Read the database's applied revisions the way ``env.py`` configures Alembic.

    Run ``env.py`` (as ``alembic current`` does), so its options count: a
    ``run_environment(version_table="...")`` names the table to read. Changes nothing in the
    database. Call from the ``work`` of :func:`run_online`.
    """
    found: list[VersionTable] = []

    def read(revision: Any, context: MigrationContext) -> list[Any]:
        found.append(
            VersionTable(
                context.version_table, context.version_table_schema, context.get_current_heads()
            )
        )
        return []

    with EnvironmentContext(config, scripts, fn=read, dont_mutate=True):
        scripts.run_env()
    if not found:
        raise MigrationError("env.py did not run the migrations (no context.run_migrations())")
    return found[0]


def describe(exc: BaseException) -> str:
    """One line saying what ``exc`` is about (a driver error's own message where there is one)."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None:
        # SQLAlchemy's asyncpg adapter renders "<class 'asyncpg.exceptions.X'>: message".
        text = re.sub(r"^<class '(?:\w+\.)*(\w+)'>:", r"\1:", str(exc.orig))
        text = text or type(exc.orig).__name__
    elif isinstance(exc, CommandError | RevisionError):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return " ".join(text.split())


class _StepTracker(logging.Handler):
    """Remembers the revision step Alembic announced last ("upgrade a -> b, add books"), and
    the statements that changed something since (:meth:`record`).

    Alembic announces steps at INFO. When its logger is quieter than that, the tracker turns it
    up for the command and stops propagation, forwarding only what the application would have
    seen anyway (records at or above ``forward_level``), so no log output changes.
    """

    def __init__(self, logger: logging.Logger, forward_level: int | None) -> None:
        super().__init__(logging.INFO)
        self.logger = logger
        self.forward_level = forward_level
        self.step: str | None = None
        #: How many revision steps started.
        self.started = 0
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == "Running %s" and isinstance(record.args, tuple) and record.args:
            self.step = str(record.args[0])
            self.statements = []
            self.started += 1
        parent = self.logger.parent
        if self.forward_level is not None and record.levelno >= self.forward_level and parent:
            parent.handle(record)

    def record(self, conn: sa.Connection, cursor: Any, statement: str, *_: Any) -> None:
        """``after_cursor_execute`` hook: remember a completed statement that changes things."""
        words = statement.split(maxsplit=1)
        if self.step is not None and words and words[0].upper() in _CHANGES:
            self.statements.append(" ".join(statement.split()))


_CHANGES = frozenset({"CREATE", "ALTER", "DROP", "RENAME", "INSERT", "UPDATE", "DELETE"})


def _applied_before_failure(tracker: _StepTracker, failure: str = "the failing one") -> str:
    """What a failed revision left behind where DDL is not transactional, for the message."""
    if not tracker.statements:
        return (
            " (the database commits each DDL statement at once; nothing of this revision had "
            f"run before {failure})"
        )
    shown = "; ".join(statement[:200] for statement in tracker.statements[:10])
    more = len(tracker.statements) - 10
    if more > 0:
        shown += f"; and {more} more"
    count = len(tracker.statements)
    return (
        f" (the database commits each DDL statement at once: {count} statement"
        f"{'s' if count > 1 else ''} of this revision before {failure} stayed applied: "
        f"{shown}; undo {'them' if count > 1 else 'it'} or finish the revision by hand before "
        "you retry)"
    )


@contextmanager
def _tracking_steps() -> Iterator[_StepTracker]:
    logger = logging.getLogger("alembic.runtime.migration")
    saved = logger.level, logger.propagate
    effective = logger.getEffectiveLevel()
    quiet = effective > logging.INFO and logger.propagate
    tracker = _StepTracker(logger, effective if quiet else None)
    logger.addHandler(tracker)
    if effective > logging.INFO:
        logger.setLevel(logging.INFO)
        logger.propagate = False
    try:
        yield tracker
    finally:
        logger.removeHandler(tracker)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


@contextmanager
def translate_errors(
    tracker: _StepTracker | None = None, state: EnvironmentState | None = None
) -> Iterator[None]:
    """Turn Alembic's and the database's exceptions into one-line :class:`MigrationError`.

    With a ``tracker``, a failure while a revision runs names the revision step; where DDL is
    not transactional (``state.transactional_ddl`` is False), also the statements of that
    revision that stayed applied. A cancellation or an interruption in the middle of a revision
    step is not translated, but logs those statements as a warning there.
    """
    try:
        yield
    except MigrationError:
        raise
    except (CommandError, RevisionError) as exc:
        raise MigrationError(describe(exc)) from exc
    except sa.exc.DBAPIError as exc:
        message = describe(exc)
        if exc.statement:
            message += f" [while running: {' '.join(exc.statement.split())[:300]}]"
        if tracker is not None and tracker.step is not None:
            message = f"revision step '{tracker.step}' failed: {message}"
            if state is not None and state.transactional_ddl is False:
                message += _applied_before_failure(tracker)
        raise MigrationError(message) from exc
    except Exception as exc:  # e.g. a revision file that fails to import or run
        message = describe(exc)
        if tracker is not None and tracker.step is not None:
            message = f"revision step '{tracker.step}' failed: {message}"
            if state is not None and state.transactional_ddl is False:
                message += _applied_before_failure(tracker)
        raise MigrationError(message) from exc
    except BaseException:  # cancelled, interrupted: it goes on as it is, and we say what stayed
        if (
            tracker is not None
            and state is not None
            and state.transactional_ddl is False
            and tracker.started > state.steps_done
        ):
            log.warning(
                "revision step '%s' was interrupted%s",
                tracker.step,
                _applied_before_failure(tracker, "the interruption"),
            )
        raise


# One lock per database serialises concurrent `migrate` runs (several replicas of an app that
# migrates at startup): the second waits, then finds nothing left to do. Session-level locks, so
# they survive the per-revision commits. SQLite has no such lock: a file lock (POSIX) stands in.
_LOCK_KEY = 0x6D6967726174696F  # "migratio"
_LOCK_NAME = "migrations"
LOCK_TIMEOUT = 300.0


@asynccontextmanager
async def _migration_lock(connection: AsyncConnection, backend: str) -> AsyncIterator[None]:
    if backend == "postgresql":
        acquire = sa.text("SELECT pg_try_advisory_lock(:key)").bindparams(key=_LOCK_KEY)
        release = sa.text("SELECT pg_advisory_unlock(:key)").bindparams(key=_LOCK_KEY)
    elif backend == "mysql":
        # GET_LOCK names are server-wide (advisory locks are per database): name the database.
        name = f"CONCAT('{_LOCK_NAME}:', SHA1(DATABASE()))"
        acquire = sa.text(f"SELECT GET_LOCK({name}, 0)")
        release = sa.text(f"SELECT RELEASE_LOCK({name})")
    elif backend == "sqlite" and connection.engine.url.database not in (None, "", ":memory:"):
        async with _file_lock(str(connection.engine.url.database)):
            yield
        return
    else:
        yield
        return
    deadline = time.monotonic() + LOCK_TIMEOUT
    while not (await connection.execute(acquire)).scalar():
        await connection.commit()
        if time.monotonic() > deadline:
            raise MigrationError(
                f"another migrate or downgrade has held the migration lock for over "
                f"{LOCK_TIMEOUT:.0f} s; try again when it has finished"
            )
        await asyncio.sleep(0.2)
    await connection.commit()  # Alembic must find the connection outside a transaction
    try:
        yield
    finally:
        # Best effort: closing the connection right after releases a session lock anyway, and
        # a failure here must not hide the error that brought us here.
        with contextlib.suppress(Exception):
            await connection.rollback()
            await connection.execute(release)
            await connection.commit()


def _open_lock_file(database: str) -> int:
    key = hashlib.sha1(os.path.abspath(database).encode()).hexdigest()[:16]
    path = os.path.join(tempfile.gettempdir(), f"migrations-{key}.lock")
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


@asynccontextmanager
async def _file_lock(database: str) -> AsyncIterator[None]:
    """An exclusive ``flock`` standing for the migration lock of the SQLite file ``database``.

    The lock file lives in the temporary directory, named after the database's absolute path:
    never the database file itself (closing another descriptor of it would drop the POSIX
    locks SQLite holds on it in this process). Where ``fcntl`` does not exist (Windows), there
    is no lock: run ``migrate`` from one process there.
    """
    try:
        import fcntl
    except ImportError:
        yield
        return
    descriptor = _open_lock_file(database)
    try:
        deadline = time.monotonic() + LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise MigrationError(
                        f"another migrate or downgrade has held the migration lock for over "
                        f"{LOCK_TIMEOUT:.0f} s; try again when it has finished"
                    ) from None
                await asyncio.sleep(0.2)
        yield
    finally:
        os.close(descriptor)  # releases the lock


# Alembic keeps the running command's context in module globals (`alembic.context`, `op`), and
# run_sync lets other tasks run while a command waits for the database: two commands in one
# process must take turns. One lock per event loop (an asyncio.Lock belongs to one loop).
_process_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _process_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _process_locks.get(loop)
    if lock is None:
        lock = _process_locks[loop] = asyncio.Lock()
    return lock


@contextmanager
def _warnings_as_log_lines() -> Iterator[None]:
    """Log Python warnings raised meanwhile (Alembic's, SQLAlchemy's) as one-line warnings.

    Deprecation warnings are meant for developers, not for whoever runs a migration: they go
    back to Python's own filters. Commands take turns in a process (:func:`_process_lock`), so
    the process-wide warning filters are ours for the duration.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            seen: set[str] = set()
            for warning in caught:
                if issubclass(warning.category, DeprecationWarning | PendingDeprecationWarning):
                    continue
                text = " ".join(str(warning.message).split())
                if text not in seen:
                    seen.add(text)
                    log.warning("%s", text)
    for warning in caught:
        if issubclass(warning.category, DeprecationWarning | PendingDeprecationWarning):
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )


async def run_offline(work: Callable[[], T]) -> T:
    """Run ``work`` (an Alembic command that needs no connection), translating its errors."""
    async with _process_lock():
        with translate_errors(), _warnings_as_log_lines():
            return work()


def _transactional_sqlite(engine: AsyncEngine) -> bool:
    """Make the pysqlite-family driver leave transactions to SQLAlchemy; return True if done.

    The driver commits before every DDL statement on its own, so a failing revision would keep
    its earlier steps (and a failed batch step its ``_alembic_tmp_<table>`` copy). With the
    driver's own handling off and ``BEGIN`` emitted by SQLAlchemy (its documented recipe),
    SQLite's DDL is transactional like PostgreSQL's: each revision commits or rolls back whole.
    """
    if not isinstance(engine.dialect, SQLiteDialect_pysqlite):
        return False

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN")

    return True


_BATCH_COPY = "_alembic_tmp_"


def _leftover_batch_copies(connection: sa.Connection) -> None:
    """Deal with copies a batch step of an earlier, failed run left (``_alembic_tmp_<table>``).

    A copy whose table exists is an unfinished copy: drop it, so the retry can make its own.
    A copy whose table is gone holds that table's rows: stop and say how to put it back.
    """
    tables = set(sa.inspect(connection).get_table_names())
    for name in sorted(tables):
        if not name.startswith(_BATCH_COPY):
            continue
        original = name[len(_BATCH_COPY) :]
        if original not in tables:
            raise MigrationError(
                f"{name} holds the rows of table {original}, which a failed batch step dropped: "
                f"rename it back (ALTER TABLE {name} RENAME TO {original}), then retry"
            )
        connection.execute(sa.schema.DropTable(sa.Table(name, sa.MetaData())))
        log.warning(
            "dropped %s, an unfinished copy of %s left by a failed batch step", name, original
        )


class CannotConnect(MigrationError):
    """:func:`run_online` could not connect to the database."""


async def run_online(
    state: EnvironmentState,
    work: Callable[[], T],
    *,
    exclusive: bool = False,
    connect_timeout: float | None = None,
) -> T:
    """Connect to ``state.url``, run ``work`` with ``state.connection`` set, and commit.

    Raise :class:`CannotConnect` when no connection is made (within ``connect_timeout``
    seconds, if given).

    ``work`` runs inside ``AsyncConnection.run_sync`` (a synchronous Alembic command). A failure
    while revisions run names the revision step that was running. With ``exclusive``, hold the
    database's migration lock meanwhile (PostgreSQL, MySQL), so concurrent runs take turns, and
    first clear what a failed batch step of an earlier run left behind.
    """
    assert state.url is not None, "an online command needs a database URL"
    url = state.url
    engine = create_async_engine(url, poolclass=NullPool)
    state.transactional_ddl = True if _transactional_sqlite(engine) else None
    try:
        try:
            connection = await asyncio.wait_for(engine.connect(), connect_timeout)
        except Exception as exc:  # refused, unknown host, bad credentials, missing database...
            raise CannotConnect(f"cannot connect to {safe_url(url)}: {describe(exc)}") from None
        try:
            tracker: _StepTracker | None = None

            def run(sync_connection: sa.Connection) -> T:
                if exclusive:
                    _leftover_batch_copies(sync_connection)
                    # Alembic runs each revision in a transaction of its own only when it
                    # finds the connection outside one.
                    sync_connection.commit()
                state.connection = sync_connection
                if tracker is not None:
                    event.listen(sync_connection, "after_cursor_execute", tracker.record)
                try:
                    with _warnings_as_log_lines():
                        return work()
                finally:
                    state.connection = None
                    if tracker is not None:
                        event.remove(sync_connection, "after_cursor_execute", tracker.record)

            backend = url.get_backend_name()
            lock = _migration_lock(connection, backend if exclusive else "")
            with translate_errors():
                async with lock, _process_lock():
                    with _tracking_steps() as tracker, translate_errors(tracker, state):
                        result = await connection.run_sync(run)
                        await connection.commit()
            return result
        finally:
            await connection.close()
    finally:
        await engine.dispose()


#: How long offline rendering waits for the database (to learn its server) before going without.
SERVER_TIMEOUT = 10.0


async def render_for_server(state: EnvironmentState, work: Callable[[], T]) -> T:
    """Run ``work``, an Alembic command in ``--sql`` mode, for the database's server.

    The SQL is rendered offline from the URL's dialect, with what a short connection learns
    about the server (MariaDB or MySQL: they share ``mysql://`` and differ in DDL, collations);
    nothing runs on the database. When it cannot be reached within ``SERVER_TIMEOUT`` seconds,
    the URL's dialect renders for its default server (MySQL, not MariaDB), with a warning.
    SQLite is rendered without connecting (no server; connecting would create the file).
    """
    assert state.url is not None
    if state.url.get_backend_name() != "sqlite":

        def learn() -> dict[str, Any]:
            assert state.connection is not None
            return server_options(state.connection.dialect)

        try:
            state.dialect_options = await run_online(state, learn, connect_timeout=SERVER_TIMEOUT)
        except CannotConnect as exc:
            log.warning(
                "%s; the SQL is rendered for a default %s server instead",
                exc,
                state.url.get_backend_name(),
            )
    return await run_offline(work)


def server_options(dialect: Dialect) -> dict[str, Any]:
    """Options that make a new dialect of ``dialect``'s URL render for the same server."""
    return {"is_mariadb": True} if getattr(dialect, "is_mariadb", False) else {}
