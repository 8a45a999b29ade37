"""``python -m examples.fastapi_app [--port N] [--host H]``: create the tables, then serve.

Also runs from any directory as ``python path/to/examples/fastapi_app`` (see examples/serve.py).
"""

import sys
from pathlib import Path

if not __package__:  # run as a path: make the package ``examples`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from examples.serve import serve

if __name__ == "__main__":
    serve("fastapi_app")
