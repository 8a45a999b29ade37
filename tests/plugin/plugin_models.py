"""The registry test_project_fixtures.py uses through the plugin's fixtures.

The table name carries a random part: test sessions sharing a server database never meet.
"""

from __future__ import annotations

import uuid

import orm

__all__ = ["Note", "notes"]

notes = orm.ModelRegistry()


class Note(orm.Model):
    registry = notes
    tablename = f"plg_{uuid.uuid4().hex[:8]}_note"
    id = orm.Integer(primary_key=True)
    text = orm.String(max_length=50)
