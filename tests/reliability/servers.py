"""Private database servers the fault tests may stop, kill and restart.

Each server lives in a temporary directory on a free port of 127.0.0.1, so stopping it never
disturbs the shared test servers. PostgreSQL runs as the ``postgres`` OS user when the tests run
as root (it refuses to run as root); MariaDB runs as the current user. Both are tuned for start-up
speed, not durability across an OS crash: a killed *process* loses no committed transaction
(PostgreSQL writes its WAL at commit; MariaDB flushes its log to the OS at commit).

A missing server binary skips the tests that need it, or fails them under ``CI=true`` (the same
rule as ``tests/conftest.py``).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import IN_CI

__all__ = [
    "PrivateMariaDB",
    "PrivatePostgres",
    "PrivateServer",
    "free_port",
    "require",
]

PG_BIN = Path(os.environ.get("ASYNCDB_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
START_TIMEOUT = 30.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def require(condition: bool, message: str) -> None:
    """Skip (or fail under ``CI=true``) when something the test needs is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(message + " (required under CI=true)")
    pytest.skip(message)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait(predicate: object, what: str, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _children(pid: int) -> list[int]:
    """The direct children of ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after the last ")".
        fields = stat.rpartition(")")[2].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


class PrivateServer:
    """A server process this test session owns: ``start()``, ``stop()``, ``kill()``,
    ``restart()``; ``url`` stays the same across restarts (same port)."""

    backend: str
    port: int
    tmp: Path

    @property
    def url(self) -> str:
        raise NotImplementedError

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        """Shut down cleanly (in-flight sessions are terminated)."""
        raise NotImplementedError

    def kill(self) -> None:
        """SIGKILL the server: no shutdown, sockets die with the process."""
        raise NotImplementedError

    def ensure_running(self) -> None:
        """Start the server if a previous test left it stopped."""
        if not _port_open(self.port):
            self.start()

    def restart(self, mode: str = "fast") -> None:
        """``mode="fast"``: clean stop then start; ``mode="kill"``: kill -9 then start."""
        if mode == "kill":
            self.kill()
        else:
            self.stop()
        self.start()

    def cleanup(self) -> None:
        with contextlib.suppress(Exception):
            self.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


class PrivatePostgres(PrivateServer):
    """A PostgreSQL 15 cluster from ``initdb`` + ``postgres``; trust authentication except for
    the role ``pwuser`` (password ``PASSWORD``, scram-sha-256). With ``tls=`` (a pair of
    certificate and key paths) the server also accepts TLS connections."""

    backend = "postgresql"
    PASSWORD_USER = "pwuser"
    PASSWORD = "Pw-of-the-pwuser-7f3a"

    @staticmethod
    def available() -> str | None:
        """Why no cluster can be started here, or None."""
        for name in ("initdb", "postgres", "pg_isready", "psql"):
            if not (PG_BIN / name).exists():
                return (
                    f"{PG_BIN / name} not found: install the PostgreSQL 15 server "
                    "(apt-get install postgresql-15) or set ASYNCDB_TEST_PG_BIN"
                )
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                return "running as root without a 'postgres' OS user to run the cluster as"
        return None

    def __init__(self, tls: tuple[Path, Path] | None = None) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="asyncdb-rel-pg-"))
        self.data = self.tmp / "data"
        self.port = free_port()
        self.log = self.tmp / "server.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            pg = pwd.getpwnam("postgres")
            os.chown(self.tmp, pg.pw_uid, pg.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self._run(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        hba = self.data / "pg_hba.conf"
        rules = f"host all {self.PASSWORD_USER} 127.0.0.1/32 scram-sha-256\n"
        hba.write_text(rules + hba.read_text())
        settings = [
            f"port = {self.port}",
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{self.tmp}'",
            "fsync = off",
            "full_page_writes = off",
            "max_connections = 300",
            "shared_buffers = 32MB",
        ]
        if tls is not None:
            cert, key = self._install_tls(*tls)
            settings += ["ssl = on", f"ssl_cert_file = '{cert}'", f"ssl_key_file = '{key}'"]
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n".join(settings) + "\n")
        self.start()
        self.psql("CREATE DATABASE test")
        self.psql(f"CREATE ROLE {self.PASSWORD_USER} LOGIN PASSWORD '{self.PASSWORD}' SUPERUSER")

    def _run(self, *args: str) -> str:
        done = subprocess.run(
            [*self._as_user, *args], capture_output=True, text=True, timeout=60, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr}{done.stdout}")
        return done.stdout

    def _install_tls(self, cert: Path, key: Path) -> tuple[Path, Path]:
        # The server reads its key only if the file is private to the server's user.
        target_cert, target_key = self.tmp / "server.crt", self.tmp / "server.key"
        shutil.copy(cert, target_cert)
        shutil.copy(key, target_key)
        os.chmod(target_key, 0o600)
        if self._as_user:
            pg = pwd.getpwnam("postgres")
            for path in (target_cert, target_key):
                os.chown(path, pg.pw_uid, pg.pw_gid)
        return target_cert, target_key

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/test"

    def psql(self, sql: str) -> str:
        return self._run(
            str(PG_BIN / "psql"),
            "-h",
            str(self.tmp),
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-At",
            "-c",
            sql,
        )

    def start(self) -> None:
        # Started as our child (not through pg_ctl) so its exit is reaped here: a killed
        # postmaster must not linger as a zombie whose pid blocks the next start.
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen(
                [*self._as_user, str(PG_BIN / "postgres"), "-D", str(self.data)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc = self._proc

        def ready() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"postgres exited: {self.log.read_text()[-2000:]}")
            probe = subprocess.run(
                [str(PG_BIN / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
                check=False,
                timeout=10,
            )
            return probe.returncode == 0

        _wait(ready, "PostgreSQL to accept connections")

    def stop(self) -> None:
        pid = self._postmaster_pid()
        if pid is not None and _alive(pid):
            os.kill(pid, signal.SIGINT)  # "fast" shutdown: sessions are terminated
            _wait(lambda: not _alive(pid), "PostgreSQL to stop", timeout=60)
        self._reap()

    def _reap(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=10)

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def kill(self) -> None:
        pid = self._postmaster_pid()
        if pid is None or not _alive(pid):
            return
        # The postmaster and every backend at once, as a crash would: a backend left running
        # would keep the shared memory and stop the next postmaster from starting.
        victims = [pid, *_children(pid)]
        for victim in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
        _wait(lambda: not any(_alive(v) for v in victims), "PostgreSQL processes to die")
        self._reap()


class PrivateMariaDB(PrivateServer):
    """A MariaDB server from ``mariadb-install-db`` + ``mariadbd``; ``root`` without a password
    from 127.0.0.1, and the user ``pwuser`` identified by ``PASSWORD``."""

    backend = "mysql"
    PASSWORD_USER = "pwuser"
    PASSWORD = "Pw-of-the-pwuser-7f3a"

    @staticmethod
    def available() -> str | None:
        for name in ("mariadb-install-db", "mariadbd", "mariadb"):
            if shutil.which(name) is None and not Path("/usr/sbin", name).exists():
                return f"{name} not found: install the MariaDB server (mariadb-server)"
        return None

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="asyncdb-rel-my-"))
        self.data = self.tmp / "data"
        self.port = free_port()
        self.socket = self.tmp / "mysqld.sock"
        self.log = self.tmp / "error.log"
        self._proc: subprocess.Popen[bytes] | None = None
        user = ["--user=root"] if os.geteuid() == 0 else []
        done = subprocess.run(
            [
                _binary("mariadb-install-db"),
                "--no-defaults",
                f"--datadir={self.data}",
                *user,
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed: {done.stderr}{done.stdout}")
        self.start()
        self.sql(
            "CREATE DATABASE test; "
            f"CREATE USER '{self.PASSWORD_USER}'@'127.0.0.1' IDENTIFIED BY '{self.PASSWORD}'; "
            f"GRANT ALL ON *.* TO '{self.PASSWORD_USER}'@'127.0.0.1'"
        )

    @property
    def url(self) -> str:
        return f"mysql://root@127.0.0.1:{self.port}/test"

    def sql(self, sql: str) -> str:
        done = subprocess.run(
            [_binary("mariadb"), "--no-defaults", f"--socket={self.socket}", "-uroot", "-e", sql],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"mariadb failed: {done.stderr}")
        return done.stdout

    def start(self) -> None:
        user = ["--user=root"] if os.geteuid() == 0 else []
        self._proc = subprocess.Popen(
            [
                _binary("mariadbd"),
                "--no-defaults",
                f"--datadir={self.data}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                f"--socket={self.socket}",
                f"--pid-file={self.tmp / 'mysqld.pid'}",
                f"--log-error={self.log}",
                *user,
                "--skip-log-bin",
                "--innodb-buffer-pool-size=32M",
                "--innodb-log-file-size=16M",
                "--innodb-flush-log-at-trx-commit=2",
                "--max-connections=400",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        proc = self._proc

        def ready() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"mariadbd exited: {self.log.read_text()[-2000:]}")
            return self.socket.exists() and _port_open(self.port)

        _wait(ready, "MariaDB to listen")

    def stop(self) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()  # SIGTERM: a clean shutdown that ends every session
        proc.wait(timeout=60)

    def kill(self) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.kill()
        proc.wait(timeout=30)


def _binary(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))
