"""Fieldapp benchmarks: numbers for people to read, never a pass or a fail.

`python -m bench.quick` (`make bench-quick`) and `python -m bench.full` (`make bench`) serve the real app
(bench/server.py), run the registered row producers against it, print one table to stdout (progress goes to
stderr) and write bench/results/<date>-<engine>-<kind>.json with the machine's facts.

A producer is a function decorated with `@producer(name, title, columns, quick=...)` that takes the `Bench` and
yields `Row`s. Every module in this package registers its producers when imported, and `load_producers()` imports
them all, so a new bench/<thing>.py shows up in the table by itself: `quick=True` rows run in both commands,
`quick=False` rows only in `bench.full`. A measurement that is planned but not written yet is listed in
bench/full.py's PLANNED and prints a "not built yet" row until a module registers a producer of that name.
Targets are printed beside the numbers; nothing here asserts anything or times anything out as a failure.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import platform
import sqlite3
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results"
# `make bench-quick` must finish within 3 minutes: no new measurement starts this long after the start, and the
# full bench stops starting new ones after an hour (a row then says "not measured").
BUDGET_S = {"quick": 168.0, "full": float(os.environ.get("BENCH_MINUTES") or 57) * 60.0}
# The county measured: the server starts on a small demo county (`start`, also the small end of the scale rows),
# then the demo is topped up to `county` households before the other producers run (bench/scale.py times it).
SIZES = {"quick": {"start": 1_000, "county": 2_000}, "full": {"start": 1_000, "county": 100_000}}
# Producers run in this order (others after them, alphabetically, and page weight last): scale first, since it
# measures the small county before the top-up.
ORDER = ["scale", "latency", "ingest", "photos", "pdf-qr"]
# What the table always covers: a name here without a registered producer prints a "not built yet" row instead of
# vanishing (both commands; a producer is `quick=True` when it has a small version for `make bench-quick`).
PLANNED: list[tuple[str, str]] = [
    ("pageweight", "Page weight (every page and fragment, cold and warm, ready time on 3G)"),
    ("scale", "County scale (search and lists at 1,000 vs the full county, demo load time, worker RSS)"),
    ("latency", "Latency under load (wrk: p50/p95/p99 and requests per second beside static and hello baselines)"),
    ("ingest", "Ingest (household creates per second, retry storm duplicates)"),
    ("photos", "Photos (12 MP JPEG/HEIC: server time, stored and thumbnail bytes, browser-side resize)"),
    ("pdf-qr", "PDF and QR (500-household notice, 1,000 certificate cards, one-page baseline)"),
]
LAST = ["pageweight", "memory"]   # memory: peak RSS of the workers after everything else
NOT_PRODUCER_MODULES = {"quick", "full", "server", "hello", "client", "report"}


# ---------------------------------------------------------------- rows and producers

@dataclass(frozen=True)
class Column:
    """One column of a producer's block: `key` in Row.values, its header, and how a value prints."""

    key: str
    header: str
    fmt: Callable[[Any], str] = str


def kb(value) -> str:
    """Bytes as KB (1 KB = 1024 bytes), one decimal."""
    return "" if value is None else f"{value / 1024:.1f}"


def plain(value) -> str:
    return "" if value is None else str(value)


def ms(value) -> str:
    """Milliseconds (or seconds), one decimal."""
    return "" if value is None else f"{value:.1f}"


def times(value) -> str:
    """A ratio to a baseline: x0.42."""
    return "" if value is None else f"x{value:.2f}"


def ratio_of(value: float | None, base: float | None) -> float | None:
    """value / base, or None when either is unknown or the base is not positive."""
    if value is None or base is None or base <= 0:
        return None
    return value / base


def percentile(values, p: float) -> float | None:
    """The p-th percentile (0-100) with linear interpolation between closest ranks (numpy's default); None for no
    values."""
    data = sorted(values)
    if not data:
        return None
    if not 0 <= p <= 100:
        raise ValueError("p must be within 0..100")
    pos = (len(data) - 1) * p / 100
    low = int(pos)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (pos - low)


@dataclass
class Row:
    """One line of the table. `values` hold raw numbers (the JSON keeps them); the columns format them."""

    item: str
    values: dict[str, Any] = field(default_factory=dict)
    target: str = ""
    note: str = ""


@dataclass
class Producer:
    name: str
    title: str
    columns: list[Column]
    run: Callable[["Bench"], Iterable[Row]] | None
    quick: bool = True
    always: bool = False   # cheap enough to run after the time budget (it reads, it does not load the server)


PRODUCERS: dict[str, Producer] = {}


def producer(name: str, title: str, columns: list[Column], *, quick: bool = True, always: bool = False):
    """Register a row producer (a later registration under the same name replaces the earlier one). `always`: it
    runs even once the time budget is spent (for a block that only reads what the run left, in no time)."""
    def wrap(fn: Callable[["Bench"], Iterable[Row]]):
        PRODUCERS[name] = Producer(name, title, list(columns), fn, quick, always)
        return fn
    return wrap


def load_producers() -> dict[str, Producer]:
    """Import every module of this package, so each registers its producers."""
    for info in pkgutil.iter_modules([str(BENCH_DIR)]):
        if info.name not in NOT_PRODUCER_MODULES and not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    return PRODUCERS


# ---------------------------------------------------------------- what producers get

class Bench:
    """The running server, a shared in-process app on the same database, and a place to keep shared things."""

    def __init__(self, server, *, started: float, budget_s: float | None = None, kind: str = "quick"):
        self.server = server
        self.kind = kind
        self.started = started
        self.deadline = started + budget_s if budget_s is not None else float("inf")
        self.shared: dict[str, Any] = {}      # e.g. the browser and logged-in states (bench/pageweight.py)
        self.facts: dict[str, Any] = {}       # producers add versions they discover (e.g. Chromium's)
        self._closers: list[Callable[[], None]] = []
        self._app = None

    def time_left(self) -> float:
        return self.deadline - time.monotonic()

    @property
    def quick(self) -> bool:
        """True in `make bench-quick`: producers use their small sizes so the whole run stays under 3 minutes."""
        return self.kind == "quick"

    @property
    def county_size(self) -> int:
        return SIZES[self.kind]["county"]

    def grow(self, households: int | None = None) -> float | None:
        """Top the demo county up to `households` (default: this kind's county size) with `flask demo load`,
        while the server keeps running. Returns the seconds it took (None if nothing was needed); the times are
        kept in facts["demo_load"]."""
        target = households if households is not None else self.county_size
        if self.server.households >= target or not self.server.demo_loaded:
            return None
        echo(f"bench: flask demo load --households {target} (from {self.server.households}) …")
        t0 = time.monotonic()
        done = self.server.flask("demo", "load", "--households", str(target))
        seconds = time.monotonic() - t0
        if done.returncode != 0:
            raise RuntimeError(f"flask demo load --households {target} failed:\n{(done.stdout + done.stderr)[-2000:]}")
        loads = self.facts.setdefault("demo_load", [])
        loads.append({"from": self.server.households, "to": target, "seconds": round(seconds, 1),
                      "layers": [line for line in done.stdout.splitlines() if line and not line.startswith("demo logins")]})
        self.server.households = target
        return seconds

    @property
    def app(self):
        """A Flask app of our code on the server's database (for its URL map and for reading ids), not serving."""
        if self._app is None:
            from fieldapp import create_app
            from fieldapp.config import Config
            overrides = {"SECRET_KEY": (self.server.instance / "secret_key").read_text().strip()}
            if self.server.database_uri:
                overrides["SQLALCHEMY_DATABASE_URI"] = self.server.database_uri
            self._app = create_app(Config, **overrides)

            def dispose():
                from fieldapp.extensions import db
                with self._app.app_context():
                    db.engine.dispose()
            self.on_close(dispose)
        return self._app

    def on_close(self, fn: Callable[[], None]) -> None:
        self._closers.append(fn)

    def close(self) -> None:
        for fn in reversed(self._closers):
            try:
                fn()
            except Exception:  # noqa: BLE001 - closing must not hide the table
                traceback.print_exc()
        self._closers.clear()


def echo(msg: str) -> None:
    """Progress, on stderr, so stdout holds only the table."""
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- machine facts

def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "processor\t: arm")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _commit() -> str | None:
    """The checked-out commit, read from .git without running git (None if not a plain checkout)."""
    git = BENCH_DIR.parent / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if head.startswith("ref: "):
            ref = head[5:]
            path = git / ref
            if path.exists():
                return path.read_text().strip()
            for line in (git / "packed-refs").read_text().splitlines():
                if line.endswith(" " + ref):
                    return line.split()[0]
            return None
        return head
    except OSError:
        return None


def machine_facts() -> dict[str, Any]:
    try:
        import gunicorn
        gunicorn_version = gunicorn.__version__
    except ImportError:
        gunicorn_version = None
    return {
        "cpu": _cpu_model(), "cores": os.cpu_count(), "memory": _memory(),
        "os": platform.platform(), "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
        "gunicorn": gunicorn_version, "commit": _commit(),
    }


def _database_version(bench: Bench) -> str | None:
    if bench.server.engine != "postgresql":
        return None
    try:
        import sqlalchemy as sa
        from fieldapp.extensions import db
        with bench.app.app_context():
            return db.session.execute(sa.text("SHOW server_version")).scalar()
    except Exception:  # noqa: BLE001 - a fact, not a requirement
        return None


# ---------------------------------------------------------------- the table

Section = tuple[Producer, list[Row]]


def _width(text: str) -> int:
    """Terminal cells: CJK characters take two."""
    import unicodedata
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * max(0, width - _width(text))
    return gap + text if right else text + gap


def format_table(sections: list[Section]) -> str:
    """One table: a block per producer, each with its own header line; item, target and note on every line."""
    lines: list[str] = []
    for prod, rows in sections:
        headers = ["item", *[c.header for c in prod.columns], "target", "note"]
        body = [[r.item, *[c.fmt(r.values.get(c.key)) for c in prod.columns], r.target, r.note] for r in rows]
        widths = [max([_width(h)] + [_width(line[i]) for line in body]) for i, h in enumerate(headers)]
        numeric = [False] + [True] * len(prod.columns) + [False, False]
        for i, col in enumerate(prod.columns, start=1):
            numeric[i] = all(_is_number(line[i]) for line in body)
        lines.append("")
        lines.append(f"== {prod.title}")
        lines.append("  ".join(_pad(h, w, n) for h, w, n in zip(headers, widths, numeric)).rstrip())
        lines.append("  ".join("-" * w for w in widths))
        for line in body:
            lines.append("  ".join(_pad(v, w, n) for v, w, n in zip(line, widths, numeric)).rstrip())
    return "\n".join(lines)


def _is_number(text: str) -> bool:
    if text in ("", "-"):
        return True
    try:
        float(text)
        return True
    except ValueError:
        return False


def dump_json(doc: dict) -> str:
    """Indented JSON with each table row on one line, so two result files diff row by row."""
    def one(value) -> str:
        return json.dumps(value, ensure_ascii=False, default=str)
    sections = doc.get("sections", [])
    head = {k: v for k, v in doc.items() if k != "sections"}
    text = json.dumps(head, ensure_ascii=False, indent=1, default=str)[:-2]
    parts = []
    for sec in sections:
        meta = ", ".join(f"{one(k)}: {one(v)}" for k, v in sec.items() if k != "rows")
        rows = ",\n".join(f"   {one(r)}" for r in sec["rows"])
        parts.append(f"  {{{meta}, \"rows\": [\n{rows}\n  ]}}")
    return text + ',\n "sections": [\n' + ",\n".join(parts) + "\n ]\n}\n"


# ---------------------------------------------------------------- running

def _note_worker_peak(bench: Bench, name: str) -> None:
    """The workers' peak RSS so far, after each block (bench/memory.py prints how it grew)."""
    from .memory import worker_peaks
    proc = bench.server.proc
    if proc is not None and proc.poll() is None:
        bench.shared.setdefault("worker_peaks", []).append((name, max(worker_peaks(proc.pid), default=0)))


def _run_order(prod: Producer) -> tuple[int, str]:
    if prod.name in ORDER:
        return (ORDER.index(prod.name), "")
    return (len(ORDER) + 1 + LAST.index(prod.name), "") if prod.name in LAST else (len(ORDER), prod.name)


def result_path(day: str, engine: str, kind: str) -> Path:
    """bench/results/<date>-<engine>.json; a quick run does not overwrite a full run's file of the same day (it
    writes <date>-<engine>-quick.json then)."""
    out = RESULTS / f"{day}-{engine}.json"
    if kind == "quick" and out.exists():
        try:
            if json.loads(out.read_text()).get("kind") == "full":
                return RESULTS / f"{day}-{engine}-quick.json"
        except (OSError, ValueError):
            pass
    return out


def run(kind: str, planned: list[tuple[str, str]] = tuple(PLANNED), argv: list[str] | None = None) -> int:
    """Start the server, run the producers of `kind` ("quick" or "full"), print the table, write the JSON."""
    parser = argparse.ArgumentParser(prog=f"python -m bench.{kind}",
                                     description=f"Fieldapp {kind} benchmark: prints one table, writes JSON.")
    parser.add_argument("--keep", action="store_true", help="keep the temporary instance (database, logs)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="run only these producers (repeatable)")
    parser.add_argument("--no-json", action="store_true", help="do not write bench/results/*.json")
    parser.add_argument("--instance", type=Path, metavar="DIR",
                        help="serve an instance kept by an earlier run (--keep) instead of preparing one "
                             "(for working on one producer; implies --no-json)")
    args = parser.parse_args(argv)

    from . import server as server_mod
    started = time.monotonic()
    producers = sorted((p for p in load_producers().values() if (kind == "full" or p.quick)), key=_run_order)
    wanted = set(args.only)
    if wanted:
        producers = [p for p in producers if p.name in wanted]
    facts = machine_facts()
    sections: list[Section] = []
    t_prepare = time.monotonic()
    if args.instance:
        args.no_json = True
    with server_mod.start(keep=args.keep, echo=echo, households=SIZES[kind]["start"], reuse=args.instance) as srv:
        facts.setdefault("demo_load", []).append(
            {"from": 0, "to": srv.households, "seconds": round(time.monotonic() - t_prepare, 1),
             "layers": ["flask db upgrade, flask demo load and gunicorn start"]})
        bench = Bench(srv, started=started, budget_s=BUDGET_S[kind], kind=kind)
        bench.facts = facts
        try:
            for prod in producers:
                if prod.name not in ("scale",) and srv.households < bench.county_size:
                    try:
                        bench.grow()
                    except Exception:  # noqa: BLE001 - measured on the smaller county; the header says so
                        traceback.print_exc()
                if bench.time_left() <= 0 and not prod.always:
                    rows = [Row(prod.title, note=f"not measured: the {kind} run's time budget "
                                                 f"({BUDGET_S[kind] / 60:.0f} minutes) ran out")]
                    sections.append((prod, rows))
                    continue
                echo(f"bench: {prod.title} …")
                t0 = time.monotonic()
                try:
                    rows = list(prod.run(bench))
                except Exception as exc:  # noqa: BLE001 - one producer's failure is a row, not the end
                    traceback.print_exc()
                    rows = [Row(prod.title, note=f"failed: {type(exc).__name__}: {exc}".splitlines()[0][:160])]
                echo(f"bench: {prod.title}: {len(rows)} rows in {time.monotonic() - t0:.1f} s")
                sections.append((prod, rows))
                _note_worker_peak(bench, prod.name)
            facts["database"] = _database_version(bench)
        finally:
            bench.close()
        server_info = srv.describe()

    registered = {p.name for p in producers}
    missing = [Row(name, {"what": title}, note="not built yet") for name, title in planned
               if name not in registered and name not in PRODUCERS and (not wanted or name in wanted)]
    if missing:
        sections.append((Producer("planned", "Planned measurements", [Column("what", "what", plain)], None,
                                  quick=False), missing))

    elapsed = time.monotonic() - started
    today = date.today().isoformat()
    print(f"Fieldapp bench ({kind}), {today}: {server_info['engine']} at {server_info['url']}, "
          f"gunicorn {server_info['workers']} workers x {server_info['threads']} threads, "
          f"demo county of {server_info['households']:,} households")
    for note in server_info["notes"]:
        print(f"  note: {note}")
    print(f"  machine: {facts['cpu']}, {facts['cores']} cores, {facts['memory']}; Python {facts['python']}, "
          f"SQLite {facts['sqlite']}" + (f", Chromium {facts['chromium']}" if facts.get("chromium") else "")
          + (f", PostgreSQL {facts['database']}" if facts.get("database") else ""))
    print("  KB = 1024 bytes, compressed as sent (headers included); targets are for reading, nothing is asserted")
    print(format_table(sections))
    print(f"\n({elapsed:.0f} s)")

    if not args.no_json:
        RESULTS.mkdir(exist_ok=True)
        out = result_path(today, server_info["engine"], kind)
        doc = {
            "kind": kind, "date": today, "elapsed_s": round(elapsed, 1), "machine": facts, "server": server_info,
            "sections": [{"name": p.name, "title": p.title, "columns": [c.key for c in p.columns],
                          "rows": [{"item": r.item, "values": r.values, "target": r.target, "note": r.note}
                                   for r in rows]} for p, rows in sections],
        }
        out.write_text(dump_json(doc))
        print(f"written: {out.relative_to(BENCH_DIR.parent)}")
    return 0
