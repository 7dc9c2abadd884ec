"""County scale: search and list latency on the starting county (1,000 households) and on the full county, and the
demo load times.

Runs FIRST (bench/__init__.py ORDER), while the county still has its starting size: each page is measured with wrk
(as bench/latency.py: one thread, pinned to the client core, phone headers) at 1 and 10 connections, then
`bench.grow()` tops the county up (100,000 households in `make bench`, 2,000 in bench-quick) and the same pages are
measured again. Each row prints both and the ratio big/small (p50 and requests/s; a p50 ratio of x1.00 means the
page does not slow down with the county). Pages:
* officer search: GET /households/search?q=<commonest surname of officer1's households> as officer1 (grid-bound);
* county search: the same query as hq_admin, who sees the whole county;
* village worklist: GET /worklist/villages/<officer1's first village> as officer1;
* village summary: GET /villages/<id>/households (the village roles' list) of the village secretary's village, as
  the secretary (officer1's first village as officer1 if the demo has no secretary).
Demo load rows: 0 -> 1,000 (the framework's first load, with `flask db upgrade` and gunicorn's start), 1,000 ->
county (`bench.grow()`), and their total, from bench.facts["demo_load"].
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from . import Bench, Column, Row, echo, plain, producer
from .latency import (PHONE_HEADERS, Target, _quote, few_answers, fmt_int, fmt_ms, fmt_ratio, fmt_rps,
                      officer_targets, ratio, run_wrk, warm_up, wrk_version)

CONCURRENCY_BY_KIND = {"quick": (1,), "full": (1, 10)}   # quick: one cell per row and size (the 3-minute run)
SECONDS = {"quick": 1, "full": 5}
WARMUP_S = {"quick": 0, "full": 1}


def fmt_s(value) -> str:
    return "" if value is None else f"{value:.1f}"


COLUMNS = [
    Column("connections", "c", plain),
    Column("small_p50_ms", "small p50", fmt_ms),
    Column("small_p95_ms", "small p95", fmt_ms),
    Column("small_rps", "small req/s", fmt_rps),
    Column("big_p50_ms", "big p50", fmt_ms),
    Column("big_p95_ms", "big p95", fmt_ms),
    Column("big_rps", "big req/s", fmt_rps),
    Column("p50_ratio", "p50 big/small", fmt_ratio),
    Column("rps_ratio", "req/s big/small", fmt_ratio),
    Column("bad", "non-2xx/3xx", fmt_int),
    Column("seconds", "s", fmt_s),
]


def _role_village(bench: Bench, role: str) -> int | None:
    """The first village `role`'s demo user sees (None without such a user)."""
    import sqlalchemy as sa
    from fieldapp.accounts.models import User
    from fieldapp.core import access
    from fieldapp.extensions import db
    username = bench.server.logins.get(role)
    if not username:
        return None
    with bench.app.app_context():
        try:
            user = db.session.scalar(sa.select(User).where(User.username == username))
            if user is None:
                return None
            area = access.area_for(user)
            ids = sorted(area.village_ids | area.partial_village_ids)
            return ids[0] if ids else None
        finally:
            db.session.remove()


def pages(bench: Bench) -> list[tuple[Target, str, str | None]]:
    """(target, role, why it can't run) for each page; the cookies are filled in by `measure_all`."""
    targets = officer_targets(bench)
    q = targets.get("surname")
    villages = targets.get("village_ids") or []
    out: list[tuple[Target, str, str | None]] = []
    search = f"/households/search?q={_quote(q or '')}"
    out.append((Target("officer search", search, detail={"q": q, "as": "officer1"}), "grid_officer",
                None if q else "officer1 sees no households"))
    out.append((Target("county search (hq)", search, detail={"q": q, "as": "hq_admin"}), "hq_admin",
                None if q else "officer1 sees no households"))
    vid = villages[0] if villages else None
    out.append((Target("village worklist", f"/worklist/villages/{vid}", detail={"village_id": vid, "as": "officer1"}),
                "grid_officer", None if vid else "officer1 has no village"))
    role, sid = "village_secretary", _role_village(bench, "village_secretary")
    if sid is None:
        role, sid = "grid_officer", vid
    out.append((Target("village summary", f"/villages/{sid}/households", detail={"village_id": sid, "as": role}),
                role, None if sid else "no village to list"))
    return out


def measure_all(bench: Bench, rows, folder: Path) -> dict[tuple[str, int], dict[str, Any] | str]:
    from .client import logged_in
    results: dict[tuple[str, int], dict[str, Any] | str] = {}
    for target, role, why in rows:
        if why:
            continue
        try:
            client = logged_in(bench, role)
        except Exception as exc:  # noqa: BLE001 - a row that says why
            for c in CONCURRENCY_BY_KIND[bench.kind]:
                results[(target.label, c)] = f"no login as {role}: {exc}"
            continue
        target.headers = {**PHONE_HEADERS, "Cookie": client.cookie_header()}
        status = warm_up(client, target.path)
        client.close()
        target.detail["status"] = status
        for c in CONCURRENCY_BY_KIND[bench.kind]:
            if bench.time_left() <= 0:
                results[(target.label, c)] = "not measured: the time budget ran out"
                continue
            echo(f"  {target.label}, c={c}")
            try:
                if WARMUP_S[bench.kind]:
                    run_wrk(bench, target, c, WARMUP_S[bench.kind], folder)
                results[(target.label, c)] = run_wrk(bench, target, c, SECONDS[bench.kind], folder)
            except Exception as exc:  # noqa: BLE001
                results[(target.label, c)] = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
    return results


@producer("scale", "County scale: search and lists on the starting county (small) vs the full county (big), "
          "demo load time", COLUMNS, quick=True)
def scale(bench: Bench):
    bench.facts.setdefault("wrk", wrk_version())
    rows = pages(bench)
    small_n = bench.server.households
    county = bench.county_size
    notes: list[str] = []
    small: dict = {}
    big: dict = {}
    big_n = small_n
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        folder = Path(tmp)
        if small_n < county:
            small = measure_all(bench, rows, folder)
            try:
                bench.grow()
                big_n = bench.server.households
            except Exception as exc:  # noqa: BLE001 - the small numbers still print
                notes.append(f"growing the county failed: {str(exc).splitlines()[0][:120]}")
        else:
            notes.append(f"the county already had {small_n:,} households (a prepared instance): big only")
        if big_n != small_n or not small:
            # the framework's other producers keep the county as it is now; measure it
            for target, _role, _why in rows:
                target.detail.pop("status", None)
            big = measure_all(bench, rows, folder)
    sizes = f"small = {small_n:,} households, big = {big_n:,}" if small else f"big = {big_n:,} households"
    first = True
    for target, role, why in rows:
        for c in CONCURRENCY_BY_KIND[bench.kind]:
            values: dict[str, Any] = {"connections": c, "path": target.path, **target.detail,
                                      "small_households": small_n if small else None, "big_households": big_n}
            if why:
                yield Row(target.label, values, note=f"not measured: {why}")
                break
            row_notes = []
            if first:
                row_notes.append(sizes)
                row_notes += notes
                first = False
            s, b = small.get((target.label, c)), big.get((target.label, c))
            bad = 0
            for prefix, result in (("small", s), ("big", b)):
                if isinstance(result, dict):
                    values.update({f"{prefix}_{k}": v for k, v in result.items()})
                    bad += result["bad"]
                    few = few_answers(result, c)
                    if few:
                        row_notes.append(f"{prefix}: {few}")
                elif isinstance(result, str):
                    row_notes.append(f"{prefix}: {result}")
            values["bad"] = bad
            if isinstance(s, dict) and isinstance(b, dict):
                values["p50_ratio"] = ratio(b["p50_ms"], s["p50_ms"])
                values["rps_ratio"] = ratio(b["rps"], s["rps"])
            if target.detail.get("q") and c == CONCURRENCY_BY_KIND[bench.kind][0]:
                row_notes.append(f"q={target.detail['q']}")
            yield Row(target.label, values, note="; ".join(row_notes))
    yield from load_rows(bench)


def load_rows(bench: Bench):
    """The demo load times bench.facts["demo_load"] holds: the first load, the top-up(s), the total."""
    loads = bench.facts.get("demo_load") or []
    if any(note.startswith("reused a prepared instance") for note in bench.server.notes):
        yield Row("demo load", note="not measured: a prepared instance was served (--instance)")
        return
    if not loads:
        yield Row("demo load", note="not measured: no demo load was timed in this run (a prepared instance?)")
        return
    for i, load in enumerate(loads):
        what = ("with flask db upgrade and gunicorn's start" if i == 0 and load.get("from", 0) == 0
                else "flask demo load while the server runs")
        yield Row(f"demo load {load.get('from', 0):,} -> {load.get('to', 0):,}",
                  {"seconds": load.get("seconds"), "from": load.get("from"), "to": load.get("to")}, note=what)
    if len(loads) > 1:
        total = sum(load.get("seconds") or 0 for load in loads)
        yield Row(f"demo load 0 -> {loads[-1].get('to', 0):,} (total)", {"seconds": total})
