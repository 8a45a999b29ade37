"""A private PgBouncer for the tests: its own ini and auth file, a free port, stopped at the end.

Debian's ``pgbouncer`` (``tests/scaleout/ensure_pgbouncer.sh`` installs it) refuses to run as
root, so under root it runs as the ``postgres`` user (or ``nobody``) through ``runuser``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["PgBouncer", "find_pgbouncer"]


def find_pgbouncer() -> str | None:
    """The pgbouncer executable (Debian puts it in /usr/sbin, often not on a user's PATH)."""
    found = shutil.which("pgbouncer")
    if found:
        return found
    return "/usr/sbin/pgbouncer" if os.access("/usr/sbin/pgbouncer", os.X_OK) else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _unprivileged_user() -> pwd.struct_passwd:
    """Who runs pgbouncer when the tests run as root: ``postgres`` if it exists, else ``nobody``."""
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        return pwd.getpwnam("nobody")


class PgBouncer:
    """One pgbouncer process in front of ``server_host:server_port``/``server_db``.

    Clients connect to ``127.0.0.1:port`` with database name ``alias`` (or, with
    ``any_database``, any database of the server) and user ``user`` (trust authentication: the
    user only has to be listed in the auth file).
    """

    def __init__(
        self,
        executable: str,
        *,
        server_host: str,
        server_port: int,
        server_db: str,
        user: str,
        password: str | None = None,
        alias: str = "test",
        pool_mode: str = "transaction",
        pool_size: int = 2,
        any_database: bool = False,
    ) -> None:
        self.executable = executable
        self.alias = alias
        self.user = user
        self.port = _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="asyncdb-pgbouncer-"))
        self.log = self.dir / "pgbouncer.log"
        server = f"host={server_host} port={server_port} dbname={server_db} user={user}"
        if password:
            server += f" password={password}"
        (self.dir / "users.txt").write_text(f'"{user}" ""\n')
        self.ini = self.dir / "pgbouncer.ini"
        self.ini.write_text(
            "\n".join(
                [
                    "[databases]",
                    f"{alias} = {server}",
                    # Any other name: the server's database of that name (tests create some).
                    *(
                        [f"* = host={server_host} port={server_port} user={user}"]
                        if any_database
                        else []
                    ),
                    "[pgbouncer]",
                    "listen_addr = 127.0.0.1",
                    f"listen_port = {self.port}",
                    "unix_socket_dir =",
                    "auth_type = trust",
                    f"auth_file = {self.dir / 'users.txt'}",
                    f"pool_mode = {pool_mode}",
                    f"default_pool_size = {pool_size}",
                    "min_pool_size = 0",
                    "reserve_pool_size = 0",
                    "max_client_conn = 500",
                    f"logfile = {self.log}",
                    f"pidfile = {self.dir / 'pgbouncer.pid'}",
                    f"admin_users = {user}",
                    "",
                ]
            )
        )
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, **options: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in options.items())
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.alias}" + (
            f"?{query}" if query else ""
        )

    def start(self, timeout: float = 15.0) -> None:
        command = [self.executable, str(self.ini)]
        if os.geteuid() == 0:
            owner = _unprivileged_user()
            for path in [self.dir, *self.dir.iterdir()]:
                os.chown(path, owner.pw_uid, owner.pw_gid)
            command = ["runuser", "-u", owner.pw_name, "--", *command]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pgbouncer exited at start: {self.log_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"pgbouncer did not listen on port {self.port}: {self.log_text()}")

    def log_text(self) -> str:
        try:
            return self.log.read_text()[-2000:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        process = self.process
        self.process = None
        if process is not None and process.poll() is None:
            # SIGINT: pgbouncer's "safe shutdown" would wait for clients; SIGTERM exits now.
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
