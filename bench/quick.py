"""`make bench-quick`: the quick rows (page weight of every page that exists), one table, results JSON.

Run: .venv/bin/python -m bench.quick [--keep] [--only NAME] [--no-json]
"""
from __future__ import annotations

import sys

from . import run

if __name__ == "__main__":
    sys.exit(run("quick", argv=sys.argv[1:]))
