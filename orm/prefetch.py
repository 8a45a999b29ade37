"""``prefetch_related``: one extra query per relation path, keyed by ``IN (...)``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from orm.exceptions import ORMError

if TYPE_CHECKING:
    from asyncdb import Database

__all__ = ["prefetch_related_objects"]


async def prefetch_related_objects(
    instances: Sequence[Any], lookups: Sequence[Any], database: Database
) -> None:
    raise ORMError("prefetch_related() is not available yet")
