"""`make bench-quick`: every row producer at its small size (a demo county of a few thousand households), under
3 minutes, one table, results JSON. Rows not built yet say so (bench/__init__.py PLANNED).

Run: .venv/bin/python -m bench.quick [--keep] [--only NAME] [--no-json]
"""
from __future__ import annotations

import sys

from . import run

if __name__ == "__main__":
    sys.exit(run("quick", argv=sys.argv[1:]))
