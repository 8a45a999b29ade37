"""The command line: ``python -m migrations [--url URL] [--models M] [--dir DIR] COMMAND``.

Settings come from the flags, ``$DATABASE_URL`` and ``[tool.migrations]`` in ``pyproject.toml``
(see :mod:`migrations.config`). Results go to stdout, warnings and errors to stderr; an error is
one line and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from migrations import api
from migrations.config import Settings, load_settings
from migrations.errors import MigrationError, SchemaDiffers
from migrations.renames import Rename

__all__ = ["main"]

log = logging.getLogger("migrations")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _global_options(parser: argparse.ArgumentParser, default: object = None) -> None:
    parser.add_argument("--url", default=default, help="database URL (default: $DATABASE_URL)")
    parser.add_argument("--models", default=default, help="models as package.module:attribute")
    parser.add_argument("--dir", default=default, help="migrations folder (default: db_migrations)")


def _parser() -> argparse.ArgumentParser:
    # The global options are accepted before and after the command; given after it, they win.
    common = _Parser(add_help=False)
    _global_options(common)
    after = _Parser(add_help=False)
    _global_options(after, default=argparse.SUPPRESS)

    # "python -m migrations" or the console script's own name.
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    prog = "python -m migrations" if script in ("", "__main__.py", "-c") else script
    parser = _Parser(
        prog=prog,
        description="Django-style schema migrations over Alembic.",
        parents=[common],
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, summary: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=summary, description=summary, parents=[after])

    add("init", "create the migrations folder")
    make = add("makemigrations", "write a revision from the changes to the models")
    make.add_argument("-m", "--message", required=True, help="what the revision does")
    make.add_argument("--empty", action="store_true", help="an empty revision (data migration)")
    make.add_argument(
        "--rename",
        action="append",
        default=[],
        metavar="TABLE.OLD:NEW|OLD=NEW",
        help=(
            "column OLD of TABLE (TABLE.OLD:NEW), or table OLD (OLD=NEW), was renamed to NEW: "
            "keep its data; repeatable"
        ),
    )
    make.add_argument(
        "--no-input",
        action="store_true",
        help="never ask about renames: what --rename does not name is dropped and added",
    )
    migrate = add("migrate", "apply revisions up to REVISION (default: head)")
    migrate.add_argument("revision", nargs="?", default="head")
    migrate.add_argument(
        "--fake",
        action="store_true",
        help="record REVISION as applied without running anything",
    )
    migrate.add_argument(
        "--fake-initial",
        action="store_true",
        help=(
            "adopt existing tables: record the initial revision as applied without running it "
            "when its tables all exist and match it"
        ),
    )
    downgrade = add("downgrade", "revert revisions down to REVISION (-1, base, an id)")
    downgrade.add_argument("revision")
    add("showmigrations", "list revisions and whether they are applied")
    sql = add("sqlmigrate", "print the SQL of one revision (nothing is run)")
    sql.add_argument("revision")
    add("check", "exit non-zero when the models and the database differ (for CI)")
    merge = add("merge", "write a revision joining two heads")
    merge.add_argument("-m", "--message", default="merge", help="what the revision does")
    return parser


class _ConsoleHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            print(f"warning: {record.getMessage()}", file=sys.stderr)
        else:
            print(record.getMessage())


def _ask_rename(rename: Rename) -> bool:
    """Ask on the terminal until the answer is yes or no: there is no default, a wrong guess
    either way costs data or a broken revision."""
    while True:
        try:
            answer = input(f"{rename.question} [y/n] ").strip().lower()
        except EOFError:  # Ctrl-D: no answer at all
            print()
            raise MigrationError(f"no answer to {rename.question!r}: nothing was written") from None
        if answer in {"y", "yes"}:
            return True
        if answer in {"n", "no"}:
            return False
        print("Please answer y or n.")


def _cannot_ask(rename: Rename) -> bool:
    """Without a terminal, a possible rename stops ``makemigrations`` with the ways out."""
    if rename.table is None:
        subject, target = f"table {rename.old}", rename.new
    else:
        subject, target = f"{rename.table}.{rename.old}", f"{rename.table}.{rename.new}"
    raise MigrationError(
        f"{subject} may have been renamed to {target}, and there is no terminal to ask: run "
        f"again with --rename {rename} to keep its data, or with --no-input to drop it and "
        f"create {target} (nothing was written)"
    )


def _require_url(settings: Settings) -> str:
    if not settings.url:
        raise MigrationError(
            "no database URL: pass --url, set DATABASE_URL, or set url in [tool.migrations]"
        )
    return settings.url


def _require_models(settings: Settings) -> str:
    if not settings.models:
        raise MigrationError(
            "no models: pass --models package.module:attribute or set models in [tool.migrations]"
        )
    return settings.models


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    directory = settings.directory
    if args.command == "init":
        created = api.init(directory)
        print(f"Created {created} (env.py, script.py.mako, alembic.ini, versions/).")
        print('Next: python -m migrations makemigrations -m "initial"')
    elif args.command == "makemigrations":
        ask = None if args.no_input else _ask_rename if sys.stdin.isatty() else _cannot_ask
        path = await api.makemigrations(
            _require_url(settings),
            None if args.empty else _require_models(settings),
            directory,
            message=args.message,
            empty=args.empty,
            renames=[Rename.parse(spec) for spec in args.rename],
            ask=ask,
            exclude_tables=settings.exclude_tables,
        )
        if path is not None:
            print(f"Created {path}: review it, then run migrate.")
    elif args.command == "migrate":
        applied = await api.migrate(
            _require_url(settings),
            settings.models,
            directory,
            revision=args.revision,
            fake=args.fake,
            fake_initial=args.fake_initial,
        )
        if not applied and not args.fake:
            print("No migrations to apply.")
    elif args.command == "downgrade":
        reverted = await api.downgrade(
            _require_url(settings), settings.models, directory, revision=args.revision
        )
        if not reverted:
            print("No migrations to revert.")
    elif args.command == "showmigrations":
        for status in await api.showmigrations(_require_url(settings), directory):
            mark = "X" if status.applied else " "
            head = " (head)" if status.head else ""
            print(f"[{mark}] {status.revision}  {status.message}{head}")
    elif args.command == "sqlmigrate":
        sql = await api.sqlmigrate(_require_url(settings), directory, revision=args.revision)
        print(sql, end="")
    elif args.command == "check":
        await api.check(
            _require_url(settings),
            _require_models(settings),
            directory,
            exclude_tables=settings.exclude_tables,
        )
        print("No changes: the models and the database agree.")
    elif args.command == "merge":
        print(f"Created {await api.merge(directory, message=args.message)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit status (0 ok, 1 failure, 2 usage, 130 interrupted)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed as one line
        return exc.code if isinstance(exc.code, int) else 2
    handler = _ConsoleHandler()
    saved = log.level, log.propagate
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    if os.getcwd() not in sys.path:
        # The project's modules (the models, types that revisions import) live here; python -m
        # puts the working directory on sys.path, a console script does not.
        sys.path.insert(0, os.getcwd())
    try:
        settings = load_settings(url=args.url, models=args.models, directory=args.dir)
        return asyncio.run(_run(args, settings))
    except SchemaDiffers as exc:
        print(f"check failed: {exc}", file=sys.stderr)
        return 1
    except MigrationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # never a traceback: one line, with the type for a bug report
        message = " ".join(str(exc).split())
        print(f"error: unexpected {type(exc).__name__}: {message}", file=sys.stderr)
        return 1
    finally:
        log.removeHandler(handler)
        log.setLevel(saved[0])
        log.propagate = saved[1]
