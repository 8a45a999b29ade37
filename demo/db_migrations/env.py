"""Alembic environment of this project's migrations (written by ``python -m migrations init``).

The ``migrations`` command line and API run Alembic with this file and hand it the database
connection and the models' metadata. Keyword arguments to ``run_environment`` go to Alembic's
``context.configure`` and win over the defaults, e.g.
``run_environment(include_object=my_filter)``.
"""

from demo.models import VERSION_TABLE
from migrations.environment import run_environment

run_environment(version_table=VERSION_TABLE)
