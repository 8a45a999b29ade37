"""A real streaming replica: a private primary cluster and a ``pg_basebackup`` standby."""

from __future__ import annotations

import os
import pwd
import tempfile
from pathlib import Path

from tests.reliability.servers import PG_BIN, PrivatePostgres, free_port

__all__ = ["PrivateStandby", "replication_pair"]


class PrivateStandby(PrivatePostgres):
    """A hot standby of ``primary``, streaming its WAL, on a port of its own."""

    def __init__(self, primary: PrivatePostgres) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="asyncdb-standby-"))
        self.data = self.tmp / "data"
        self.port = free_port()
        self.log = self.tmp / "server.log"
        self._proc = None
        self._as_user = []
        if os.geteuid() == 0:
            pg = pwd.getpwnam("postgres")
            os.chown(self.tmp, pg.pw_uid, pg.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        # -R writes standby.signal and primary_conninfo: the copy starts as a streaming standby.
        self._run(
            str(PG_BIN / "pg_basebackup"),
            "-h",
            "127.0.0.1",
            "-p",
            str(primary.port),
            "-U",
            "postgres",
            "-D",
            str(self.data),
            "-R",
            "-X",
            "stream",
            "--checkpoint=fast",  # the default waits for the next scheduled checkpoint
            "--no-sync",
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.port}\nunix_socket_directories = '{self.tmp}'\nhot_standby = on\n"
            )
        self.start()

    def promote(self) -> None:
        """Make this standby a primary (waits until it accepts writes)."""
        self.psql("SELECT pg_promote(true, 60)")


def replication_pair() -> tuple[PrivatePostgres, PrivateStandby]:
    primary = PrivatePostgres()
    try:
        return primary, PrivateStandby(primary)
    except BaseException:
        primary.stop()
        primary.cleanup()
        raise
