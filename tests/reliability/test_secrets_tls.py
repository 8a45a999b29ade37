"""Secrets and TLS (issue 8, item 6).

* ``ssl=`` options against the private PostgreSQL cluster, which serves a certificate signed by
  a throw-away CA: ``require`` encrypts, ``verify-full`` with ``sslrootcert=`` verifies the chain
  and the host name, an untrusted CA is refused with ``OperationalError``, ``disable`` stays
  in clear text.
* A password in the URL never shows up anywhere: every log record (every logger at DEBUG),
  stdout/stderr, exception messages, reprs and full tracebacks (chained driver errors included)
  of failing and working connections are captured and searched for it.
"""

from __future__ import annotations

import asyncio
import io
import logging
import traceback
import warnings
from collections.abc import Awaitable, Callable, Iterator
from urllib.parse import quote

import pytest

from asyncdb import Database, DatabaseError, OperationalError

from .certs import Certificates
from .proxy import FaultProxy
from .servers import PrivateMariaDB, PrivatePostgres, free_port

SSL_IN_USE = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


# -- TLS -----------------------------------------------------------------------------------------


async def test_ssl_require_encrypts(private_postgres: PrivatePostgres) -> None:
    private_postgres.ensure_running()
    async with Database(private_postgres.url + "?ssl=require") as db:
        assert await db.fetch_val(SSL_IN_USE) is True
    async with Database(private_postgres.url + "?sslmode=require") as db:
        assert await db.fetch_val(SSL_IN_USE) is True


async def test_ssl_disable_is_clear_text(private_postgres: PrivatePostgres) -> None:
    private_postgres.ensure_running()
    async with Database(private_postgres.url + "?ssl=disable") as db:
        assert await db.fetch_val(SSL_IN_USE) is False


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_ssl_verify_full_with_ca_file(
    private_postgres: PrivatePostgres, certificates: Certificates, host: str
) -> None:
    private_postgres.ensure_running()
    url = (
        f"postgresql://postgres@{host}:{private_postgres.port}/test"
        f"?sslmode=verify-full&sslrootcert={quote(str(certificates.ca))}"
    )
    async with Database(url) as db:
        assert await db.fetch_val(SSL_IN_USE) is True
        assert await db.fetch_val("SELECT 1") == 1


@pytest.mark.parametrize("mode", ["verify-full", "verify-ca"])
async def test_ssl_untrusted_ca_is_refused(
    private_postgres: PrivatePostgres, certificates: Certificates, mode: str
) -> None:
    private_postgres.ensure_running()
    url = f"{private_postgres.url}?ssl={mode}&sslrootcert={quote(str(certificates.other_ca))}"
    db = Database(url, acquire_timeout=10)
    with pytest.raises(OperationalError, match="(?i)certificate"):
        await db.connect()
    assert not db.is_connected


async def test_ssl_bad_mode_is_a_value_error(private_postgres: PrivatePostgres) -> None:
    with pytest.raises(ValueError, match="verify-full"):
        Database(private_postgres.url + "?ssl=maybe")


# -- secrets -------------------------------------------------------------------------------------

#: A password nobody would type by accident, with characters that need URL quoting.
SECRET = "Zq9-s3cr3t/p@ss:w%rd-Xy7"
FORMS = {SECRET, quote(SECRET), quote(SECRET, safe=""), "s3cr3t"}


class _Capture:
    """Everything a user could see: log records of every logger at DEBUG, warnings, and the
    text, repr and traceback of exceptions, plus reprs of the objects involved."""

    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.texts: list[str] = []

    def exception(self, exc: BaseException) -> None:
        self.texts.append("".join(traceback.format_exception(exc)))
        seen: BaseException | None = exc
        while seen is not None:
            self.texts += [str(seen), repr(seen), repr(seen.args)]
            seen = seen.__cause__ or seen.__context__

    def objects(self, *things: object) -> None:
        for thing in things:
            self.texts += [str(thing), repr(thing)]

    def all_text(self) -> str:
        return self.stream.getvalue() + "\n".join(self.texts)


@pytest.fixture
def capture() -> Iterator[_Capture]:
    captured = _Capture()
    handler = logging.StreamHandler(captured.stream)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    loggers = [root] + [
        lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    loggers += [logging.getLogger(n) for n in ("asyncdb", "asyncdb.pool", "asyncio")]
    levels = {lg: lg.level for lg in loggers}
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    root.addHandler(handler)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield captured
        finally:
            root.removeHandler(handler)
            for lg, level in levels.items():
                lg.setLevel(level)
            captured.texts += [str(w.message) for w in caught]


async def _fail_and_capture(capture: _Capture, url: str, **options: object) -> None:
    """Connect (and use) ``url``: it must fail with a DatabaseError or ValueError; capture it."""
    try:
        db = Database(url, acquire_timeout=5, **options)  # type: ignore[arg-type]
    except ValueError as exc:
        capture.exception(exc)
        return
    capture.objects(db, db.url, db.sqlalchemy_url, db._backend.describe())
    try:
        async with asyncio.timeout(30):
            await db.connect()
            await db.fetch_val("SELECT 1")
    except DatabaseError as exc:
        capture.exception(exc)
    else:
        raise AssertionError(f"{db!r} connected, but this scenario must fail")
    finally:
        await db.disconnect()
        capture.objects(db)


def _assert_no_secret(capture: _Capture, capfd: pytest.CaptureFixture[str]) -> str:
    out, err = capfd.readouterr()
    text = capture.all_text() + out + err
    leaks = [form for form in FORMS if form in text]
    assert leaks == [], f"the password leaked: {text[:3000]}"
    return text


Scenario = Callable[[], Awaitable[None]]


async def test_password_never_shown_postgres(
    private_postgres: PrivatePostgres,
    capture: _Capture,
    capfd: pytest.CaptureFixture[str],
    certificates: Certificates,
) -> None:
    private_postgres.ensure_running()
    port, pw = private_postgres.port, quote(SECRET, safe="")
    user = PrivatePostgres.PASSWORD_USER
    proxy = FaultProxy("127.0.0.1", port)
    await proxy.start()
    proxy.blackhole = True
    try:
        for url in [
            f"postgresql://{user}:{pw}@127.0.0.1:{port}/test",  # wrong password
            f"postgresql://nobody:{pw}@127.0.0.1:{port}/test",  # unknown user
            f"postgresql://{user}:{pw}@127.0.0.1:{free_port()}/test",  # refused
            f"postgresql://{user}:{pw}@no-such-host.invalid:5432/test",  # DNS failure
            f"postgresql://{user}:{pw}@127.0.0.1:{proxy.port}/test?connect_timeout=1",  # timeout
            f"postgresql://{user}:{pw}@127.0.0.1:{port}/test?sslmode=verify-full"
            f"&sslrootcert={quote(str(certificates.other_ca))}",  # untrusted certificate
            f"postgresql://{user}:{pw}@127.0.0.1:{port}/test?nonsense=1",  # unknown option
            f"postgresql://{user}:{pw}@127.0.0.1:notaport/test",  # malformed
        ]:
            await _fail_and_capture(capture, url)
        # A working connection with the password right there: DEBUG logs, a failing statement.
        right = quote(PrivatePostgres.PASSWORD, safe="")
        FORMS.add(PrivatePostgres.PASSWORD)
        try:
            async with Database(f"postgresql://{user}:{right}@127.0.0.1:{port}/test") as db:
                capture.objects(db, db.url, db.sqlalchemy_url)
                try:
                    await db.fetch_val("SELECT * FROM rel_no_such_table")
                except DatabaseError as exc:
                    capture.exception(exc)
            _assert_no_secret(capture, capfd)
        finally:
            FORMS.discard(PrivatePostgres.PASSWORD)
    finally:
        await proxy.close()
    text = _assert_no_secret(capture, capfd)
    assert "password authentication failed" in text  # the scenarios really ran
    assert "***" in text  # ... and the URL was shown, masked


async def test_password_never_shown_mysql(
    private_mariadb: PrivateMariaDB,
    capture: _Capture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    private_mariadb.ensure_running()
    port, pw = private_mariadb.port, quote(SECRET, safe="")
    user = PrivateMariaDB.PASSWORD_USER
    proxy = FaultProxy("127.0.0.1", port)
    await proxy.start()
    proxy.blackhole = True
    try:
        for url in [
            f"mysql://{user}:{pw}@127.0.0.1:{port}/test",  # wrong password
            f"mysql://nobody:{pw}@127.0.0.1:{port}/test",  # unknown user
            f"mysql://{user}:{pw}@127.0.0.1:{free_port()}/test",  # refused
            f"mysql://{user}:{pw}@no-such-host.invalid:3306/test",  # DNS failure
            f"mysql://{user}:{pw}@127.0.0.1:{proxy.port}/test?connect_timeout=1",  # timeout
            f"mysql://{user}:{pw}@127.0.0.1:{port}/test?nonsense=1",  # unknown option
        ]:
            await _fail_and_capture(capture, url)
        right = quote(PrivateMariaDB.PASSWORD, safe="")
        FORMS.add(PrivateMariaDB.PASSWORD)
        try:
            async with Database(f"mysql://{user}:{right}@127.0.0.1:{port}/test") as db:
                capture.objects(db, db.url, db.sqlalchemy_url)
                try:
                    await db.fetch_val("SELECT * FROM rel_no_such_table")
                except DatabaseError as exc:
                    capture.exception(exc)
            _assert_no_secret(capture, capfd)
        finally:
            FORMS.discard(PrivateMariaDB.PASSWORD)
    finally:
        await proxy.close()
    text = _assert_no_secret(capture, capfd)
    assert "Access denied" in text
    assert "***" in text
