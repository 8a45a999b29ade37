"""The exceptions the ``migrations`` package raises.

Every failure a user can cause (a bad ``--models`` path, an unreachable database, an unknown
revision, two heads, models that differ from the database) is a ``MigrationError`` whose
message is one line that says what went wrong and, where there is one, what to do. The command
line prints that line and exits non-zero; it never shows a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["MigrationError", "SchemaDiffers"]


class MigrationError(Exception):
    """A migration command could not do what was asked; ``str(exc)`` is one line for the user."""


class SchemaDiffers(MigrationError):
    """``check`` found differences between the models and the database schema.

    ``diffs`` holds one short description per difference (``"add table 'books'"``).
    """

    def __init__(self, diffs: Sequence[str]) -> None:
        self.diffs = list(diffs)
        super().__init__(
            "models and database differ (run makemigrations, then migrate): " + "; ".join(diffs)
        )
