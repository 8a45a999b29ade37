"""The asyncdb suite's statement, transaction, row, error and timeout tests, run again on
PostgreSQL through PgBouncer in transaction pooling mode (``?pgbouncer=true``).

The tests are the ones in ``tests/asyncdb``, imported here; only ``database_url`` changes, and
they are collected for PostgreSQL only (``pytestmark`` below). PgBouncer has two server
connections, the client pool up to ten, so consecutive statements of one client connection
land on different server connections.
"""

from __future__ import annotations

import pytest

from tests.asyncdb.conftest import tables  # noqa: F401 - fixture used by the imported tests
from tests.asyncdb.test_errors import *  # noqa: F403
from tests.asyncdb.test_observability import *  # noqa: F403
from tests.asyncdb.test_queries import *  # noqa: F403
from tests.asyncdb.test_row import *  # noqa: F403
from tests.asyncdb.test_timeouts import *  # noqa: F403
from tests.asyncdb.test_transactions import *  # noqa: F403

from .pgbouncer import PgBouncer

pytestmark = pytest.mark.backends("postgresql")


@pytest.fixture
def database_url(backend: str, pgbouncer: PgBouncer) -> str:
    return pgbouncer.url(pgbouncer="true")
