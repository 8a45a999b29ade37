"""Database URLs: parsing, validation and password-safe rendering."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from sqlalchemy.engine import URL as SAURL

__all__ = ["SCHEMES", "DatabaseURL"]

# URL scheme -> (backend name, SQLAlchemy async driver name)
SCHEMES: Mapping[str, str] = {
    "sqlite": "sqlite",
    "sqlite+aiosqlite": "sqlite",
    "postgresql": "postgresql",
    "postgresql+asyncpg": "postgresql",
    "postgres": "postgresql",
    "mysql": "mysql",
    "mysql+aiomysql": "mysql",
}
_SQLALCHEMY_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "mysql": "mysql+aiomysql",
}
_MASK = "***"
# Options SQLAlchemy's async dialects accept in the URL themselves (TLS above all, so that
# Alembic connects the way the application does).
# (our option, the connect argument SQLAlchemy's dialect passes to the driver)
_SQLALCHEMY_OPTIONS: Mapping[str, tuple[tuple[str, str], ...]] = {
    "postgresql": (
        ("sslmode", "ssl"),
        ("ssl", "ssl"),
        ("target_session_attrs", "target_session_attrs"),
    ),
    "mysql": (("charset", "charset"),),
}


def _supported() -> str:
    return ", ".join(f"{s}://" for s in SCHEMES)


class DatabaseURL:
    """A parsed database URL.

    ``str()`` and ``repr()`` never show the password; ``password`` gives it to code that
    needs it. A malformed URL or an unknown scheme raises ``ValueError`` naming the supported
    schemes.
    """

    __slots__ = (
        "_password",
        "backend",
        "database",
        "host",
        "hosts",
        "options",
        "port",
        "scheme",
        "user",
    )

    def __init__(self, url: str | DatabaseURL) -> None:
        if isinstance(url, DatabaseURL):
            for name in self.__slots__:
                setattr(self, name, getattr(url, name))
            return
        if not isinstance(url, str):
            raise ValueError(
                f"database URL must be a str, got {type(url).__name__}; "
                f"supported schemes: {_supported()}"
            )
        scheme, sep, _ = url.partition("://")
        if not sep or scheme.lower() not in SCHEMES:
            shown = scheme if sep else "<none>"
            raise ValueError(
                f"unsupported or malformed database URL (scheme {shown!r}); "
                f"supported schemes: {_supported()}"
            )
        self.scheme: str = scheme.lower()
        self.backend = SCHEMES[self.scheme]
        extra_hosts: list[tuple[str, int | None]] = []
        try:
            parts = urlsplit(url)
            userinfo, at, hostlist = parts.netloc.rpartition("@")
            if "," in hostlist:
                # PostgreSQL multi-host: host1:port1,host2:port2 (libpq's failover syntax).
                if self.backend != "postgresql":
                    raise ValueError("several hosts")
                first, *others = hostlist.split(",")
                parts = parts._replace(netloc=f"{userinfo}{at}{first}")
                for other in others:
                    extra = urlsplit(f"//{other}")
                    if not extra.hostname:
                        raise ValueError("empty host")
                    extra_hosts.append((extra.hostname, extra.port))
            port = parts.port
        except ValueError:
            # urlsplit's own message can echo the netloc, password included: never chain it.
            raise ValueError(
                f"malformed database URL for scheme {self.scheme!r}: invalid host or port"
            ) from None
        self.user = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password is not None else None
        self.host = parts.hostname
        self.port = port
        #: Every (host, port) of the URL, in order (PostgreSQL may list several for failover).
        self.hosts: tuple[tuple[str, int | None], ...] = (
            ((self.host, port), *extra_hosts) if self.host else ()
        )
        self.options: dict[str, str] = dict(parse_qsl(parts.query, keep_blank_values=True))
        if self.backend == "sqlite":
            if parts.netloc:
                raise ValueError(
                    "malformed SQLite URL: use sqlite:///relative.db, sqlite:////absolute.db "
                    "or sqlite:///:memory:"
                )
            path = parts.path[1:] if parts.path.startswith("/") else parts.path
            self.database: str | None = path or ":memory:"
        else:
            if not self.host:
                raise ValueError(f"malformed database URL: no host given for {self.scheme}://")
            self.database = unquote(parts.path.lstrip("/")) or None

    @property
    def password(self) -> str | None:
        return self._password

    @property
    def is_memory(self) -> bool:
        return self.backend == "sqlite" and self.database in (":memory:", "")

    def render(self, *, hide_password: bool = True) -> str:
        """The URL as text; the password is masked unless ``hide_password=False``."""
        auth = ""
        if self.user is not None:
            auth = quote(self.user, safe="")
            if self._password is not None:
                pw = _MASK if hide_password else quote(self._password, safe="")
                auth += f":{pw}"
            auth += "@"
        netloc = auth + ",".join(
            (f"[{host}]" if ":" in host else host) + (f":{port}" if port is not None else "")
            for host, port in self.hosts
        )
        path = f"/{self.database}" if self.database else ""
        query = "&".join(f"{quote(k)}={quote(v)}" for k, v in self.options.items())
        return f"{self.scheme}://{netloc}{path}" + (f"?{query}" if query else "")

    def to_sqlalchemy(self, **overrides: Any) -> SAURL:
        """The equivalent SQLAlchemy URL with the async driver (for Alembic / engines).

        TLS mode (``ssl``/``sslmode``) and ``target_session_attrs`` are kept; a CA file
        (``sslrootcert``) cannot be expressed there: pass an ``ssl.SSLContext`` to the engine.
        """
        fields: dict[str, Any] = {
            "drivername": _SQLALCHEMY_DRIVERS[self.backend],
            "username": self.user,
            "password": self._password,
            "host": self.host,
            "port": self.port,
            "database": self.database,
            "query": {},
        }
        if len(self.hosts) > 1:
            # SQLAlchemy's asyncpg dialect takes several hosts as repeated ?host= entries.
            fields.update(
                host=None,
                port=None,
                query={"host": [f"{h}:{p}" if p is not None else h for h, p in self.hosts]},
            )
        query: dict[str, Any] = dict(fields["query"])
        for name, target in _SQLALCHEMY_OPTIONS.get(self.backend, ()):
            if name in self.options:
                query[target] = self.options[name]
        fields["query"] = query
        fields.update(overrides)
        return SAURL.create(**fields)

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"DatabaseURL({self.render()!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = DatabaseURL(other)
            except ValueError:
                return False
        if not isinstance(other, DatabaseURL):
            return NotImplemented
        return self.render(hide_password=False) == other.render(hide_password=False)

    def __hash__(self) -> int:
        return hash(self.render(hide_password=False))
