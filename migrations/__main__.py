"""``python -m migrations``: run the command line."""

import sys

from migrations.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
