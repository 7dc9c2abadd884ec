"""`make bench`: every registered row producer (the quick rows included), one table, results JSON.

A measurement that is planned but not written yet prints a "not built yet" row instead of vanishing. To build one,
add a module to bench/ that registers a producer under its name here, e.g.

    @producer("latency", "Latency under load (wrk)", COLUMNS, quick=False)
    def latency(bench): ...

Run: .venv/bin/python -m bench.full [--keep] [--only NAME] [--no-json]
"""
from __future__ import annotations

import sys

from . import run

# (producer name, title), in the order they print.
PLANNED: list[tuple[str, str]] = [
    ("latency", "Latency under load (wrk against the main pages, p50/p99, requests per second)"),
    ("ingest", "Ingest (household import and visit sync)"),
    ("photos", "Photos (upload, HEIC/JPEG resize, thumbnails)"),
    ("pdf-qr", "PDF and QR (certificate cards, posted lists)"),
    ("county-scale", "County scale (a whole county's households: lists, search, reports)"),
]

if __name__ == "__main__":
    sys.exit(run("full", planned=PLANNED, argv=sys.argv[1:]))
