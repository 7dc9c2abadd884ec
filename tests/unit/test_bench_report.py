"""bench/report.py: the README's Performance table from results JSON (pure: no server)."""
from __future__ import annotations

import pytest

from bench import report


def doc(engine: str) -> dict:
    return {
        "kind": "full", "date": "2026-11-23", "elapsed_s": 900.0,
        "machine": {"cpu": "CPU", "cores": 2, "memory": "4 GiB", "python": "3.11", "sqlite": "3.40",
                    "commit": "abcdef123", "database": "15.1" if engine == "postgresql" else None},
        "server": {"engine": engine, "households": 100000},
        "sections": [
            {"name": "pageweight", "rows": [
                {"item": "/login", "target": "cold≤40", "note": "",
                 "values": {"kind": "form", "cold_bytes": 3072, "warm_bytes": 1536, "g3_cold_ms": 911.2}},
                {"item": "/households/<household_id>", "target": "cold≤40", "note": "cold over by 1.0 KB",
                 "values": {"kind": "form", "cold_bytes": 41984, "warm_bytes": 4096}}]},
            {"name": "latency", "rows": [
                {"item": "verify page", "target": "", "note": "",
                 "values": {"connections": 10, "p50_ms": 41.44, "p95_ms": 70.8, "p99_ms": 95.6, "rps": 225.4,
                            "vs_static": 0.3, "vs_hello": 0.11}}]},
            {"name": "memory", "rows": [
                {"item": "worker peak (max)", "target": "", "note": "",
                 "values": {"hwm_bytes": 300 * 2**20, "vs_hello": 9.5}}]},
        ],
    }


@pytest.mark.parametrize("needle", [
    "| `/login` | form | 3.0 | 1.5 | — | 911 |",
    "1 over a target: `/households/<household_id>` (cold over by 1.0 KB)",
    "| sqlite | verify page | 10 | 41.4 | 70.8 | 95.6 | 225 | ×0.30 | ×0.11 |",
    "| postgresql | verify page | 10 |",
    "| sqlite | worker peak RSS (max) |  |  |  | 300 MiB | ×9.50 hello |",
    "PostgreSQL 15.1",
])
def test_the_table_carries_each_row_and_ratio(needle):
    text = report.report({"sqlite": doc("sqlite"), "postgresql": doc("postgresql")})
    assert needle in text


def test_into_readme_replaces_only_what_stands_between_the_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\nbefore\n{report.START}\nold table\n{report.END}\nafter\n")
    report.into_readme("| new |\n", readme)
    assert readme.read_text() == f"# Title\nbefore\n{report.START}\n| new |\n{report.END}\nafter\n"
