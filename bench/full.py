"""`make bench`: every row producer at full size (a county of 100,000 households), one table, results JSON.

Capped at an hour: a producer that would start after the budget prints a "not measured" row. A measurement that is
planned but not written yet (bench/__init__.py PLANNED) prints a "not built yet" row instead of vanishing.

Run: .venv/bin/python -m bench.full [--keep] [--only NAME] [--no-json]
"""
from __future__ import annotations

import sys

from . import run

if __name__ == "__main__":
    sys.exit(run("full", argv=sys.argv[1:]))
