"""Ingest: household creates per second with idempotency keys, and a retry storm that must not duplicate.

Python threads (http.client, bench/client.py), each pinned to the client core, each its own phone: officer1's
cookies and one keep-alive connection. Each thread GETs the new-household form once (its csrf_token, the group
choices and the form's own idem_key for its first create) and then generates keys like the form does
(uuid4 hex, fieldapp.core.idempotency.new_key).
* creates: N POSTs of the new-household form at 10 threads (full 2,000, quick 100): creates per second, and the
  households the database holds afterwards (counted by the run's address tag) against the 303s received;
* retry storm: M new creates, each sent 3 times at once with the SAME idem_key and payload (a phone retrying on a
  dropped connection; 10 creates in flight at a time, so 30 requests): rate, duplicates in the database (households
  created minus distinct keys: must be 0) and how many copies got the replayed answer (Idempotent-Replayed);
* baseline: GET /static/app.css with the same threads and client (as many requests as creates), so creates/s
  prints as a ratio of what the client and server manage for a static file.
If the new-household form is not in the app, the rows say "not built: <why>".
"""
from __future__ import annotations

import os
import statistics
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import Bench, Column, Row, echo, percentile, plain, producer
from .latency import (STATIC_PATH, create_form, fmt_int, fmt_ms, fmt_ratio, fmt_rps, officer_targets,
                      settled_count)

SIZES = {"quick": {"creates": 100, "storm": 30}, "full": {"creates": 2_000, "storm": 300}}
THREADS = 10
COPIES = 3

COLUMNS = [
    Column("requests", "requests", plain),
    Column("seconds", "s", lambda v: "" if v is None else f"{v:.2f}"),
    Column("rate", "req/s", fmt_rps),
    Column("creates_per_s", "creates/s", fmt_rps),
    Column("p50_ms", "p50 ms", fmt_ms),
    Column("p95_ms", "p95 ms", fmt_ms),
    Column("created_in_db", "in DB", fmt_int),
    Column("duplicates", "dups", fmt_int),
    Column("replayed", "replayed", fmt_int),
    Column("vs_static", "÷static", fmt_ratio),
]


# ---------------------------------------------------------------- pure helpers (tests/unit/test_bench_ingest.py)

def error_text(html: str, limit: int = 120) -> str:
    """The message a failed form answer shows: its alert banner or first field error, else the start of its text."""
    import re
    from html import unescape
    for pattern in (r'role="alert"[^>]*>(.*?)</', r'class="[^"]*\berror\b[^"]*"[^>]*>(.*?)</'):
        found = re.search(pattern, html or "", re.S)
        if found and found.group(1).strip():
            return " ".join(unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())[:limit]
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", html or "", flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", text)).split())[:limit]


def storm_outcome(copies: list[tuple[int, bool]]) -> dict[str, int]:
    """What the copies of one key got: (status, replayed) each -> counts. `created` is the copy that was not a
    replay and succeeded (2xx/3xx); a healthy storm has exactly one per key and the rest replayed."""
    ok = [(s, r) for s, r in copies if 200 <= s < 400]
    return {"copies": len(copies), "ok": len(ok), "replayed": sum(1 for _s, r in ok if r),
            "created": sum(1 for _s, r in ok if not r), "failed": len(copies) - len(ok)}


# ---------------------------------------------------------------- running

def _pin_this_thread(bench: Bench) -> None:
    cpus = bench.server.client_cpus
    if cpus and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})   # 0: the calling thread
        except OSError:
            pass


class Phone:
    """One thread's client: officer1's cookies, the form's csrf_token, and keys like the form's."""

    def __init__(self, bench: Bench, base, path: str, shared: dict[str, str]):
        self.client = base.clone()
        self.path = path
        resp, fields = self.client.form(path)   # a real GET of the form: this phone's csrf_token and first key
        if resp.status != 200 or "csrf_token" not in fields:
            raise RuntimeError(f"GET {path} answered {resp.status}")
        self.fields = {**shared, "csrf_token": fields["csrf_token"]}
        self.first_key = fields.get("idem_key")

    def key(self) -> str:
        if self.first_key:
            key, self.first_key = self.first_key, None
            return key
        return uuid.uuid4().hex

    def create(self, address: str, key: str) -> tuple[int, bool, float, str | None]:
        resp = self.client.post_form(self.path, {**self.fields, "idem_key": key, "address": address})
        return (resp.status, resp.headers.get("idempotent-replayed") == "true", resp.seconds,
                error_text(resp.text) if resp.status >= 400 else None)


def _phones(bench: Bench, base, path: str, shared: dict[str, str], n: int) -> list[Phone]:
    return [Phone(bench, base, path, shared) for _ in range(n)]


def run_creates(bench: Bench, base, path: str, shared: dict[str, str], n: int, tag: str) -> dict[str, Any]:
    phones = _phones(bench, base, path, shared, THREADS)
    local = threading.local()
    pool_ids = iter(range(THREADS))
    lock = threading.Lock()

    def init():
        _pin_this_thread(bench)
        with lock:
            local.phone = phones[next(pool_ids)]

    def one(i: int):
        return local.phone.create(f"{tag}-{i}", local.phone.key())

    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS, initializer=init) as pool:
        results = list(pool.map(one, range(n)))
    seconds = time.perf_counter() - started
    for phone in phones:
        phone.client.close()
    statuses = Counter(s for s, _r, _t, _e in results)
    ok = sum(v for s, v in statuses.items() if 200 <= s < 400)
    times = [t for _s, _r, t, _e in results]
    errors = Counter(f"{s}: {e}" for s, _r, _t, e in results if e)
    created = settled_count(bench, tag + "-", ok)
    return {"requests": n, "seconds": seconds, "rate": n / seconds, "creates_per_s": created / seconds,
            "p50_ms": 1000 * percentile(times, 50), "p95_ms": 1000 * percentile(times, 95),
            "p99_ms": 1000 * percentile(times, 99), "mean_ms": 1000 * statistics.fmean(times),
            "ok": ok, "statuses": {str(k): v for k, v in sorted(statuses.items())}, "created_in_db": created,
            "duplicates": created - ok, "threads": THREADS, "errors": dict(errors.most_common(5))}


def run_static(bench: Bench, base, n: int) -> dict[str, Any]:
    clients = [base.clone() for _ in range(THREADS)]
    local = threading.local()
    ids = iter(range(THREADS))
    lock = threading.Lock()

    def init():
        _pin_this_thread(bench)
        with lock:
            local.client = clients[next(ids)]

    def one(_i: int):
        resp = local.client.get(STATIC_PATH, headers={"Accept-Encoding": "br, gzip"})
        return resp.status, resp.seconds

    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS, initializer=init) as pool:
        results = list(pool.map(one, range(n)))
    seconds = time.perf_counter() - started
    for client in clients:
        client.close()
    times = [t for _s, t in results]
    return {"requests": n, "seconds": seconds, "rate": n / seconds,
            "p50_ms": 1000 * percentile(times, 50), "p95_ms": 1000 * percentile(times, 95),
            "statuses": dict(Counter(str(s) for s, _t in results)), "threads": THREADS}


def run_storm(bench: Bench, base, path: str, shared: dict[str, str], m: int, tag: str) -> dict[str, Any]:
    """M creates, each sent COPIES times at once (a barrier per key) with the same key and payload."""
    workers = THREADS * COPIES
    phones = _phones(bench, base, path, shared, THREADS)   # csrf tokens from real form GETs
    keys = [uuid.uuid4().hex for _ in range(m)]
    barriers = [threading.Barrier(COPIES, timeout=60) for _ in range(m)]
    local = threading.local()
    lock = threading.Lock()
    ids = iter(range(workers))

    def init():
        _pin_this_thread(bench)
        with lock:
            n = next(ids)
        # copies of one key go out from different connections (as a retry after a dropped one does)
        local.client = phones[n % THREADS].client.clone()
        local.fields = phones[n % THREADS].fields

    def one(task: tuple[int, int]):
        i, _copy = task
        # the csrf_token of this thread's session (the payload hash leaves it out, so the copies still match)
        fields = {**local.fields, "idem_key": keys[i], "address": f"{tag}-{i}"}
        try:
            barriers[i].wait()
        except threading.BrokenBarrierError:
            pass
        resp = local.client.post_form(path, fields)
        return (i, resp.status, resp.headers.get("idempotent-replayed") == "true", resp.seconds,
                error_text(resp.text) if resp.status >= 400 else None)

    tasks = [(i, copy) for i in range(m) for copy in range(COPIES)]
    started = time.perf_counter()
    with ThreadPoolExecutor(workers, initializer=init) as pool:
        results = list(pool.map(one, tasks))
    seconds = time.perf_counter() - started
    for phone in phones:
        phone.client.close()
    by_key: dict[int, list[tuple[int, bool]]] = {}
    for i, status, replayed, _t, _e in results:
        by_key.setdefault(i, []).append((status, replayed))
    outcomes = [storm_outcome(copies) for copies in by_key.values()]
    created = settled_count(bench, tag + "-", m)
    times = [t for _i, _s, _r, t, _e in results]
    statuses = Counter(str(s) for _i, s, _r, _t, _e in results)
    errors = Counter(f"{s}: {e}" for _i, s, _r, _t, e in results if e)
    return {"requests": len(tasks), "seconds": seconds, "rate": len(tasks) / seconds,
            "creates_per_s": created / seconds, "p50_ms": 1000 * percentile(times, 50),
            "p95_ms": 1000 * percentile(times, 95), "distinct_keys": m, "created_in_db": created,
            "duplicates": created - m, "replayed": sum(o["replayed"] for o in outcomes),
            "keys_created_once": sum(1 for o in outcomes if o["created"] == 1),
            "failed_copies": sum(o["failed"] for o in outcomes), "statuses": dict(sorted(statuses.items())),
            "threads": workers, "errors": dict(errors.most_common(5))}


@producer("ingest", "Ingest: household creates per second with idempotency keys, and a retry storm (each create "
          "sent 3 times at once)", COLUMNS, quick=True)
def ingest(bench: Bench):
    from .client import logged_in
    sizes = SIZES[bench.kind]
    officer = logged_in(bench, "grid_officer")
    targets = officer_targets(bench)
    form = create_form(bench, officer, targets.get("village_ids", []))
    if isinstance(form, str):
        yield Row(f"creates ({sizes['creates']:,} at {THREADS} threads)", note=form)
        yield Row(f"retry storm ({sizes['storm']:,} creates x{COPIES})", note=form)
        officer.close()
        return
    path, shared = form
    run = "I" + uuid.uuid4().hex[:8]
    try:
        echo(f"  baseline: {sizes['creates']} x GET {STATIC_PATH}")
        static = run_static(bench, officer, sizes["creates"])
        yield Row(f"baseline: GET {STATIC_PATH} ({sizes['creates']:,} at {THREADS} threads)", static,
                  note="the same client and threads: what a cheap request costs")
        echo(f"  {sizes['creates']} creates at {THREADS} threads")
        creates = run_creates(bench, officer, path, shared, sizes["creates"], f"{run}n")
        creates["vs_static"] = creates["creates_per_s"] / static["rate"] if static["rate"] else None
        creates["path"] = path
        bad = {k: v for k, v in creates["statuses"].items() if not k.startswith(("2", "3"))}
        note = (f"DB: {creates['created_in_db']} created = {creates['ok']} 303s ✓" if creates["duplicates"] == 0
                else f"DB: {creates['created_in_db']} created vs {creates['ok']} 303s: MISMATCH")
        if bad:
            note += f"; failed: {bad}"
            if creates["errors"]:
                note += f" ({next(iter(creates['errors']))})"
        yield Row(f"creates ({sizes['creates']:,} at {THREADS} threads)", creates, note=note)
        if bench.time_left() <= 0:
            yield Row(f"retry storm ({sizes['storm']:,} creates x{COPIES})",
                      note="not measured: the time budget ran out")
            return
        echo(f"  retry storm: {sizes['storm']} creates x{COPIES}")
        storm = run_storm(bench, officer, path, shared, sizes["storm"], f"{run}s")
        storm["vs_static"] = storm["creates_per_s"] / static["rate"] if static["rate"] else None
        storm["path"] = path
        expected_replays = sizes["storm"] * (COPIES - 1)
        note = (f"{storm['distinct_keys']} keys -> {storm['created_in_db']} households "
                f"({'no duplicates ✓' if storm['duplicates'] == 0 else 'DUPLICATES'}); "
                f"{storm['replayed']}/{expected_replays} copies replayed")
        if storm["failed_copies"]:
            note += f"; {storm['failed_copies']} copies failed {storm['statuses']}"
            if storm["errors"]:
                note += f" ({next(iter(storm['errors']))})"
        yield Row(f"retry storm ({sizes['storm']:,} creates x{COPIES})", storm, note=note)
    finally:
        officer.close()
