"""How one migration command runs Alembic: its ``Config``, a connection, and error translation.

Online commands open an async SQLAlchemy engine (``NullPool``: nothing outlives the command),
take one connection and run the Alembic command inside ``AsyncConnection.run_sync``, so they
work inside a running event loop. Every failure leaves as a one-line :class:`MigrationError`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import logging
import re
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from migrations.config import safe_url
from migrations.environment import STATE_KEY, EnvironmentState
from migrations.errors import MigrationError

__all__ = [
    "alembic_config",
    "describe",
    "run_offline",
    "run_online",
    "script_directory",
    "translate_errors",
]

T = TypeVar("T")

# Revision files sort by creation time: 2026_11_21_141259-3f2a1b9c8d7e_add_books.py
_FILE_TEMPLATE = (
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
    config.set_main_option("file_template", _FILE_TEMPLATE)
    config.attributes[STATE_KEY] = state
    return config


def script_directory(config: Config) -> ScriptDirectory:
    """The folder's revisions; raise :class:`MigrationError` when they cannot be read."""
    with translate_errors():
        return ScriptDirectory.from_config(config)


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
    """Remembers the revision step Alembic announced last ("upgrade a -> b, add books").

    Alembic announces steps at INFO. When its logger is quieter than that, the tracker turns it
    up for the command and stops propagation, forwarding only what the application would have
    seen anyway (records at or above ``forward_level``), so no log output changes.
    """

    def __init__(self, logger: logging.Logger, forward_level: int | None) -> None:
        super().__init__(logging.INFO)
        self.logger = logger
        self.forward_level = forward_level
        self.step: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == "Running %s" and isinstance(record.args, tuple) and record.args:
            self.step = str(record.args[0])
        parent = self.logger.parent
        if self.forward_level is not None and record.levelno >= self.forward_level and parent:
            parent.handle(record)


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
def translate_errors(tracker: _StepTracker | None = None, backend: str = "") -> Iterator[None]:
    """Turn Alembic's and the database's exceptions into one-line :class:`MigrationError`."""
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
            if backend == "mysql":
                message += (
                    " (MySQL commits each DDL statement at once: the statements of this"
                    " revision before the failing one stay applied)"
                )
        raise MigrationError(message) from exc
    except Exception as exc:  # e.g. a revision file that fails to import or run
        message = describe(exc)
        if tracker is not None and tracker.step is not None:
            message = f"revision step '{tracker.step}' failed: {message}"
        raise MigrationError(message) from exc


# One lock per database serialises concurrent `migrate` runs (several replicas of an app that
# migrates at startup): the second waits, then finds nothing left to do. Session-level locks, so
# they survive the per-revision commits. SQLite serialises writers by itself.
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


async def run_offline(work: Callable[[], T]) -> T:
    """Run ``work`` (an Alembic command that needs no connection), translating its errors."""
    async with _process_lock():
        with translate_errors():
            return work()


async def run_online(
    state: EnvironmentState, work: Callable[[], T], *, exclusive: bool = False
) -> T:
    """Connect to ``state.url``, run ``work`` with ``state.connection`` set, and commit.

    ``work`` runs inside ``AsyncConnection.run_sync`` (a synchronous Alembic command). A failure
    while revisions run names the revision step that was running. With ``exclusive``, hold the
    database's migration lock meanwhile (PostgreSQL, MySQL), so concurrent runs take turns.
    """
    assert state.url is not None, "an online command needs a database URL"
    url = state.url
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        try:
            connection = await engine.connect()
        except Exception as exc:  # refused, unknown host, bad credentials, missing database...
            raise MigrationError(f"cannot connect to {safe_url(url)}: {describe(exc)}") from None
        try:

            def run(sync_connection: sa.Connection) -> T:
                state.connection = sync_connection
                try:
                    return work()
                finally:
                    state.connection = None

            backend = url.get_backend_name()
            lock = _migration_lock(connection, backend if exclusive else "")
            with translate_errors():
                async with lock, _process_lock():
                    with _tracking_steps() as tracker, translate_errors(tracker, backend):
                        result = await connection.run_sync(run)
                        await connection.commit()
            return result
        finally:
            await connection.close()
    finally:
        await engine.dispose()
