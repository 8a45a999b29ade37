"""Fixtures for the reliability suite: private servers (one of each per session, always stopped
at the end), TLS material, and the fault-injecting proxy."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import make_url

from .certs import Certificates, make_certificates, openssl_missing
from .proxy import FaultProxy
from .servers import PrivateMariaDB, PrivatePostgres, PrivateServer, require


@pytest.fixture(scope="session")
def certificates() -> Iterator[Certificates]:
    missing = openssl_missing()
    require(missing is None, str(missing))
    with tempfile.TemporaryDirectory(prefix="asyncdb-rel-tls-") as directory:
        yield make_certificates(Path(directory))


@pytest.fixture(scope="session")
def private_postgres(certificates: Certificates) -> Iterator[PrivatePostgres]:
    """A private PostgreSQL cluster with TLS enabled (self-signed CA from ``certificates``)."""
    missing = PrivatePostgres.available()
    require(missing is None, f"private PostgreSQL unavailable: {missing}")
    server = PrivatePostgres(tls=(certificates.server_cert, certificates.server_key))
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def private_mariadb() -> Iterator[PrivateMariaDB]:
    missing = PrivateMariaDB.available()
    require(missing is None, f"private MariaDB unavailable: {missing}")
    server = PrivateMariaDB()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def private_server(backend: str, request: pytest.FixtureRequest) -> PrivateServer:
    """The private server of the parametrised backend (started if it is not running)."""
    name = {"postgresql": "private_postgres", "mysql": "private_mariadb"}[backend]
    server: PrivateServer = request.getfixturevalue(name)
    server.ensure_running()
    return server


@pytest.fixture
async def proxy(backend: str, tmp_path: Path) -> AsyncIterator[FaultProxy]:
    """A fault-injecting proxy in front of the parametrised backend's shared test server."""
    from asyncdb import DatabaseURL

    url = DatabaseURL(make_url(backend, tmp_path))
    default_port = {"postgresql": 5432, "mysql": 3306}[backend]
    fault_proxy = FaultProxy(url.host or "127.0.0.1", url.port or default_port)
    await fault_proxy.start()
    try:
        yield fault_proxy
    finally:
        await fault_proxy.close()


def through(url: str, proxy: FaultProxy, **options: str) -> str:
    """``url`` pointed at ``proxy`` instead of the server (same user, password, database)."""
    from asyncdb import DatabaseURL

    parsed = DatabaseURL(url)
    auth = ""
    if parsed.user:
        auth = quote(parsed.user, safe="")
        if parsed.password:
            auth += ":" + quote(parsed.password, safe="")
        auth += "@"
    query = "&".join(f"{k}={v}" for k, v in {**parsed.options, **options}.items())
    return f"{parsed.scheme}://{auth}127.0.0.1:{proxy.port}/{parsed.database}" + (
        f"?{query}" if query else ""
    )
