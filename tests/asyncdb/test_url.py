from __future__ import annotations

import pytest

from asyncdb import Database, DatabaseURL

SCHEMES = [
    "sqlite:///app.db",
    "sqlite+aiosqlite:///app.db",
    "sqlite:///:memory:",
    "postgresql://u:pw@localhost:5432/db",
    "postgresql+asyncpg://u:pw@localhost/db",
    "mysql://u:pw@localhost:3306/db",
    "mysql+aiomysql://u:pw@localhost/db",
]


@pytest.mark.parametrize("url", SCHEMES)
def test_every_contract_scheme_is_accepted(url: str) -> None:
    parsed = DatabaseURL(url)
    assert parsed.backend in {"sqlite", "postgresql", "mysql"}
    Database(url)  # constructing does not connect


@pytest.mark.parametrize("url", ["oracle://u@h/db", "nonsense", "", "http://x", "postgresql:/x"])
def test_bad_url_names_supported_schemes(url: str) -> None:
    with pytest.raises(ValueError) as info:
        Database(url)
    message = str(info.value)
    assert "postgresql://" in message and "mysql://" in message and "sqlite://" in message


def test_non_string_url_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="must be a str, got int"):
        DatabaseURL(42)  # type: ignore[arg-type]


def test_password_never_shown() -> None:
    url = "postgresql://alice:s3cr%40t@db.example:5433/app?application_name=x"
    db = Database(url)
    for text in (repr(db), str(db.url), repr(db.url), db.url.render()):
        assert "s3cr" not in text
        assert "***" in text
    assert db.url.password == "s3cr@t"
    assert db.url.user == "alice" and db.url.host == "db.example" and db.url.port == 5433
    assert db.url.database == "app"
    assert "s3cr" not in repr(db.sqlalchemy_url)


def test_bad_port_error_does_not_echo_password() -> None:
    with pytest.raises(ValueError) as info:
        DatabaseURL("postgresql://u:hunter2@host:notaport/db")
    assert "hunter2" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_sqlite_paths() -> None:
    assert DatabaseURL("sqlite:///rel/app.db").database == "rel/app.db"
    assert DatabaseURL("sqlite:////abs/app.db").database == "/abs/app.db"
    assert DatabaseURL("sqlite:///:memory:").is_memory
    assert DatabaseURL("sqlite://").is_memory


def test_pool_options_from_url_and_keywords() -> None:
    db = Database("postgresql://u@h/db?min_size=2&max_size=7&acquire_timeout=1.5")
    assert db._settings["min_size"] == 2
    assert db._settings["max_size"] == 7
    assert db._settings["acquire_timeout"] == 1.5
    db = Database("postgresql://u@h/db?max_size=7", max_size=3)
    assert db._settings["max_size"] == 3  # keywords win


def test_bad_option_values_are_named() -> None:
    with pytest.raises(ValueError, match="'max_size' must be a int, got 'lots'"):
        Database("postgresql://u@h/db?max_size=lots")
    with pytest.raises(ValueError, match="unknown PostgreSQL option.*bogus"):
        Database("postgresql://u@h/db?bogus=1")
    with pytest.raises(ValueError, match="unknown MySQL option.*bogus"):
        Database("mysql://u@h/db?bogus=1")
    with pytest.raises(ValueError, match="unknown SQLite option.*bogus"):
        Database("sqlite:///x.db?bogus=1")
    with pytest.raises(ValueError, match="option 'ssl' must be one of"):
        Database("postgresql://u@h/db?ssl=maybe")


def test_driver_options_as_keywords() -> None:
    db = Database("postgresql://u@h/db", ssl="require", statement_cache_size=0)
    assert db._backend._connect["statement_cache_size"] == 0  # type: ignore[attr-defined]
    assert db._backend._connect["ssl"] is not None  # type: ignore[attr-defined]


def test_drivers_are_imported_lazily() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from asyncdb import Database; Database('sqlite:///x.db'); "
        "print('asyncpg' in sys.modules, 'aiomysql' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_postgresql_multi_host_urls() -> None:
    url = DatabaseURL(
        "postgresql://app:pw@db1:5432,db2:5433,db3/shop?target_session_attrs=read-write"
    )
    assert url.hosts == (("db1", 5432), ("db2", 5433), ("db3", None))
    assert url.host == "db1" and url.port == 5432
    assert (
        str(url)
        == "postgresql://app:***@db1:5432,db2:5433,db3/shop?target_session_attrs=read-write"
    )
    sa_url = url.to_sqlalchemy()
    assert sa_url.query["host"] == ("db1:5432", "db2:5433", "db3")
    with pytest.raises(ValueError, match="invalid host or port"):
        DatabaseURL("mysql://u@h1,h2/db")
    with pytest.raises(ValueError, match="invalid host or port"):
        DatabaseURL("postgresql://u@h1,,h2/db")


def test_sqlalchemy_url_keeps_tls_options() -> None:
    url = DatabaseURL("postgresql://u:pw@h/db?ssl=require&max_size=3")
    sa_url = url.to_sqlalchemy()
    assert sa_url.query == {"ssl": "require"}  # pool options are ours, not the driver's
    assert sa_url.drivername == "postgresql+asyncpg" and sa_url.password == "pw"
    assert "pw" not in repr(sa_url)
