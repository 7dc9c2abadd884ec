"""Latency under load: wrk against the app's gunicorn, beside two baselines measured in the same run.

Rows (each at 1, 10 and 50 connections, one wrk thread, wrk pinned to the client core and gunicorn to the other):
* worklist search: GET /households/search?q=<the commonest surname of officer1's households> as officer1 (a
  name search: the statement that scans members, the slowest kind of search);
* household page: GET /households/<id> of a household in officer1's grid, as officer1;
* verify page: GET /V/<token> of an active demo certificate, logged out (the card's QR);
* create: POST the new-household form as officer1 (bench/wrk/create.lua: the cookie and a csrf_token from a real
  GET of the form, a unique idem_key per request). Afterwards the households this run created are counted in the
  database (by their address, which carries the key) and compared with the 2xx/3xx answers wrk counted; requests
  still in flight when wrk stopped (wrk drops them, the server finishes them) are counted apart;
* baselines: a static file (/static/app.css through the app's own gunicorn) and bench/hello.py (a bare Flask view
  served by a second gunicorn with the same flags on another port, stopped afterwards).
Every row's requests per second is printed as a ratio of each baseline's at the same concurrency.

wrk's numbers come from bench/wrk/report.lua's done() (latency:percentile), parsed by `parse_report`. Requests send
`Accept-Encoding: br, gzip` and `Accept-Language: zh-CN` like a phone. Full: 1 s warm-up (not counted) then 8 s
per cell; quick: 1 s per cell. Nothing is asserted.
"""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import Bench, Column, Row, echo, plain, producer
from . import ms as fmt_ms
from . import ratio_of as ratio
from . import times as fmt_ratio

WRK = "/usr/bin/wrk"
LUA_DIR = Path(__file__).resolve().parent / "wrk"
CONCURRENCY = (1, 10, 50)
SECONDS = {"quick": 1, "full": 8}
WARMUP_S = {"quick": 0, "full": 1}
PHONE_HEADERS = {"Accept-Encoding": "br, gzip", "Accept-Language": "zh-CN,zh;q=0.9",
                 "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
STATIC_PATH = "/static/app.css"
NEW_HEAD_NAME = "压测新户"   # letters only, as the form wants
NEW_FORM_ENDPOINT = "households.new"
NEW_FORM_PATH = "/worklist/villages/<village_id>/households/new"
SETTLE_S = 15.0             # how long to wait for the server to finish the requests wrk dropped at its stop


# ---------------------------------------------------------------- pure helpers (tests/unit/test_bench_wrk.py)

REPORT = re.compile(r"^BENCH (.*)$", re.MULTILINE)


def parse_report(text: str) -> dict[str, int]:
    """The `BENCH key=value ...` line bench/wrk/report.lua's done() prints (the last one if several)."""
    lines = REPORT.findall(text or "")
    if not lines:
        raise ValueError("no BENCH line in wrk's output")
    out: dict[str, int] = {}
    for pair in lines[-1].split():
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"not key=value: {pair!r}")
        try:
            out[key] = int(value)
        except ValueError:
            out[key] = int(float(value))
    for required in ("requests", "duration_us", "p50_us", "p95_us", "p99_us", "status_errors"):
        if required not in out:
            raise ValueError(f"wrk's BENCH line lacks {required}")
    return out


def summarize(report: dict[str, int]) -> dict[str, Any]:
    """Milliseconds, requests per second and error counts of one parsed wrk report."""
    seconds = report["duration_us"] / 1e6
    answered = report["requests"] > 0   # wrk's histogram is empty (all zeros) when nothing came back in time
    socket_errors = sum(report.get(k, 0) for k in ("connect_errors", "read_errors", "write_errors"))
    return {
        "p50_ms": report["p50_us"] / 1000 if answered else None,
        "p95_ms": report["p95_us"] / 1000 if answered else None,
        "p99_ms": report["p99_us"] / 1000 if answered else None,
        "max_ms": report.get("max_us", 0) / 1000 if answered else None,
        "mean_ms": report.get("mean_us", 0) / 1000 if answered else None,
        "rps": report["requests"] / seconds if seconds > 0 else None,
        "requests": report["requests"], "seconds": round(seconds, 3),
        "bad": report["status_errors"], "ok": report["requests"] - report["status_errors"],
        "socket_errors": socket_errors, "timeouts": report.get("timeouts", 0),
        # wrk calls request() once more than it sends: on the first thread, to check the script before the run
        "issued": max(0, report.get("issued", 0) - 1),
    }


def few_answers(result: dict[str, Any], connections: int) -> str | None:
    """A note when a cell has too few answers for its percentiles to mean much (the page is slower than the run
    is long at this concurrency)."""
    n = result.get("requests", 0)
    if n == 0:
        return f"no answer within the {result.get('seconds', 0):.0f} s run at c={connections}"
    if n < max(10, 2 * connections):
        return f"only {n} answers in {result.get('seconds', 0):.0f} s"
    return None


def fmt_rps(value) -> str:
    return "" if value is None else (f"{value:.0f}" if value >= 10 else f"{value:.1f}")


def fmt_int(value) -> str:
    return "" if value is None else str(int(value))


def header_args(headers: dict[str, str]) -> list[str]:
    out: list[str] = []
    for key, value in headers.items():
        out += ["-H", f"{key}: {value}"]
    return out


# ---------------------------------------------------------------- running wrk

def wrk_version() -> str | None:
    try:
        done = subprocess.run([WRK, "-v"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    first = (done.stdout + done.stderr).strip().splitlines()
    return " ".join(first[0].split()[:2]) if first else None


def lua_script(folder: Path, extra: str | None = None) -> Path:
    """bench/wrk/report.lua, followed by a row's own script (wrk takes one -s file)."""
    text = (LUA_DIR / "report.lua").read_text()
    name = "report"
    if extra:
        text += "\n" + (LUA_DIR / extra).read_text()
        name = Path(extra).stem
    path = folder / f"{name}.lua"
    path.write_text(text)
    return path


@dataclass
class Target:
    """What one row requests: a path on a port, with headers, and an optional Lua script with its arguments."""

    label: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    script: str | None = None          # a file of bench/wrk/ appended to report.lua
    args: list[str] = field(default_factory=list)
    port: int | None = None            # None: the app's
    detail: dict[str, Any] = field(default_factory=dict)


def run_wrk(bench: Bench, target: Target, connections: int, seconds: int, folder: Path,
            args: list[str] | None = None) -> dict[str, Any]:
    """One wrk run of `seconds` at `connections`; its summary (raises if wrk did not report)."""
    srv = bench.server
    port = target.port or srv.port
    script = lua_script(folder, target.script)
    threads = 1   # one core for the client: a second wrk thread would only share it
    cmd = [WRK, "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "30s",
           "-s", str(script), *header_args(target.headers), f"http://{srv.host}:{port}{target.path}"]
    extra = args if args is not None else target.args
    if extra:
        cmd += ["--", *extra]
    done = subprocess.run(srv.pin_client(cmd), capture_output=True, text=True, timeout=seconds + 90,
                          stdin=subprocess.DEVNULL)
    try:
        report = parse_report(done.stdout)
    except ValueError as exc:
        raise RuntimeError(f"wrk failed ({done.returncode}): {(done.stderr or done.stdout).strip()[:200]}") from exc
    out = summarize(report)
    out["threads"] = threads
    out["drain_s"] = drain(bench, port)
    return out


def drain(bench: Bench, port: int, quick_ms: float = 50.0, limit_s: float = 15.0) -> float:
    """Wait until the server has worked off what wrk left queued when it stopped (requests it dropped still run),
    so the next cell starts on an idle server: GET /healthz until one answers within `quick_ms`. Seconds waited."""
    from .client import Client
    started = time.monotonic()
    client = Client(bench.server.host, port, timeout=limit_s)
    try:
        while time.monotonic() - started < limit_s:
            try:
                resp = client.get("/healthz" if port == bench.server.port else "/")
            except OSError:
                time.sleep(0.1)
                continue
            if resp.seconds * 1000 <= quick_ms:
                break
    finally:
        client.close()
    return round(time.monotonic() - started, 2)


def measure(bench: Bench, target: Target, connections: int, folder: Path, args: list[str] | None = None
            ) -> dict[str, Any]:
    """Warm-up (full only, not counted), then the measured run."""
    warm = WARMUP_S[bench.kind]
    if warm:
        run_wrk(bench, target, connections, warm, folder, args=_warm_args(target, args))
    return run_wrk(bench, target, connections, SECONDS[bench.kind], folder, args=args)


def _warm_args(target: Target, args: list[str] | None) -> list[str] | None:
    """A create's warm-up uses its own tag, so its households are not counted with the measured run's."""
    chosen = list(args if args is not None else target.args)
    if target.script == "create.lua" and len(chosen) >= 3:
        chosen[2] = chosen[2] + "w"
    return chosen


# ---------------------------------------------------------------- the baseline server

class HelloServer:
    """bench/hello.py under a second gunicorn with the production flags, on a free 127.0.0.1 port."""

    def __init__(self, bench: Bench):
        from .server import ROOT, free_port
        self.bench = bench
        self.port = free_port(bench.server.host)
        log = bench.server.instance / "bench-hello.log"
        cmd = bench.server.gunicorn_cmd(f"{bench.server.host}:{self.port}", app="bench.hello:app", log=log)
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=bench.server.env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait()

    def _wait(self, timeout: float = 30.0) -> None:
        from .client import Client
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the hello gunicorn exited with {self.proc.returncode}")
            try:
                client = Client(self.bench.server.host, self.port, timeout=2)
                status = client.get("/").status
                client.close()
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("the hello gunicorn did not answer within 30 s")

    def remember_memory(self) -> None:
        """The hello workers' peak RSS (bench/memory.py prints the app's workers beside it)."""
        from .memory import worker_peaks
        peaks = worker_peaks(self.proc.pid)
        if peaks:
            self.bench.shared["hello_worker_hwm"] = max(peaks)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


# ---------------------------------------------------------------- what to request

def officer_targets(bench: Bench) -> dict[str, Any]:
    """Ids and words from the database for officer1's rows (kept in bench.shared for bench/scale.py)."""
    if "officer_targets" in bench.shared:
        return bench.shared["officer_targets"]
    import sqlalchemy as sa
    from fieldapp.accounts.models import User
    from fieldapp.core import access
    from fieldapp.extensions import db
    from fieldapp.households.models import Household
    out: dict[str, Any] = {}
    with bench.app.app_context():
        try:
            username = bench.server.logins.get("grid_officer")
            user = db.session.scalar(sa.select(User).where(User.username == username)) if username else None
            if user is None:
                raise RuntimeError("no grid officer login in this database")
            area = access.area_for(user)
            mine = access.bound_clause(Household, area)
            out["household_ids"] = db.session.scalars(sa.select(Household.id).where(mine, Household.status == "active")
                                                      .order_by(Household.id).limit(5)).all()
            first = sa.func.substr(Household.head_name, 1, 1)
            # (the bench's own creates, 压测新户, left out: a reused instance may hold many)
            out["surname"] = db.session.execute(sa.select(first, sa.func.count())
                                                .where(mine, Household.head_name != NEW_HEAD_NAME).group_by(first)
                                                .order_by(sa.func.count().desc(), first).limit(1)).scalar()
            out["village_ids"] = sorted(area.village_ids | area.partial_village_ids)
        finally:
            db.session.remove()
    bench.shared["officer_targets"] = out
    return out


def count_created(bench: Bench, prefix: str) -> int:
    """Households whose address starts with `prefix` (a run's tag)."""
    import sqlalchemy as sa
    from fieldapp.extensions import db
    from fieldapp.households.models import Household
    # under a GET request context: a plain read (BEGIN), not the write lock (BEGIN IMMEDIATE) SQLite sessions take
    # outside requests, so polling does not queue the server's creates
    with bench.app.test_request_context("/", method="GET"):
        try:
            return db.session.scalar(sa.select(sa.func.count(Household.id))
                                     .where(Household.address.startswith(prefix, autoescape=True))) or 0
        finally:
            db.session.remove()


def settled_count(bench: Bench, prefix: str, expected: int | None = None) -> int:
    """The count once it stops changing (the server finishing requests wrk dropped when it stopped): as soon as it
    reaches `expected` and holds, else once it has not moved for 2 s (at most SETTLE_S)."""
    deadline = time.monotonic() + SETTLE_S
    last, still_since = count_created(bench, prefix), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = count_created(bench, prefix)
        if now != last:
            last, still_since = now, time.monotonic()
        elif expected is not None and now >= expected:
            return now
        elif time.monotonic() - still_since >= 2.0:
            return now
    return last


def create_form(bench: Bench, client, village_ids: list[int]) -> tuple[str, dict[str, str]] | str:
    """(path, shared fields) of the new-household form of one of officer1's villages (the last that opens, so the
    first village, which other producers open, keeps its size), or why there is none ("not built: ...")."""
    endpoints = {rule.endpoint for rule in bench.app.url_map.iter_rules()}
    if NEW_FORM_ENDPOINT not in endpoints:
        return f"not built: the app has no {NEW_FORM_ENDPOINT} route (GET/POST {NEW_FORM_PATH})"
    why = "officer1 has no village"
    for vid in reversed(village_ids):
        path = NEW_FORM_PATH.replace("<village_id>", str(vid))
        resp = client.get(path)
        if resp.status != 200:
            why = f"GET {path} answered {resp.status}"
            continue
        from .client import form_fields, select_options
        fields = form_fields(resp.text)
        if "csrf_token" not in fields or "idem_key" not in fields:
            why = f"{path} has no csrf_token or idem_key"
            continue
        groups = [value for value, _text, _sel in select_options(resp.text, "group_id") if value]
        return path, {"csrf_token": fields["csrf_token"], "head_name": NEW_HEAD_NAME, "id_number": "", "phone": "",
                      "group_id": groups[0] if groups else ""}
    return f"not built: {why}"


def warm_up(client, path: str, times: int = 4) -> int:
    """A few plain requests first (both workers compile their templates); the last status."""
    status = 0
    for _ in range(times):
        status = client.get(path, headers=PHONE_HEADERS).status
    return status


# ---------------------------------------------------------------- the producer

COLUMNS = [
    Column("connections", "c", plain),
    Column("p50_ms", "p50 ms", fmt_ms),
    Column("p95_ms", "p95 ms", fmt_ms),
    Column("p99_ms", "p99 ms", fmt_ms),
    Column("rps", "req/s", fmt_rps),
    Column("bad", "non-2xx/3xx", fmt_int),
    Column("vs_static", "÷static", fmt_ratio),
    Column("vs_hello", "÷hello", fmt_ratio),
]


@producer("latency", "Latency under load (wrk, one core each): p50/p95/p99 and requests/s, ÷ the static and hello "
          "baselines at the same concurrency", COLUMNS, quick=True)
def latency(bench: Bench):
    from .client import Client, encode_form, logged_in
    bench.facts["wrk"] = wrk_version()
    if not os.path.exists(WRK):
        yield Row("latency", note=f"not measured: {WRK} is missing (apt-get install wrk)")
        return
    officer = logged_in(bench, "grid_officer")
    targets = officer_targets(bench)
    cookie = {"Cookie": officer.cookie_header()}
    rows: list[tuple[Target, str | None]] = []   # (target, why it can't run)

    static = Target("static file (baseline)", STATIC_PATH, dict(PHONE_HEADERS))
    rows.append((static, None))
    hello = Target("hello view (baseline)", "/", dict(PHONE_HEADERS))
    rows.append((hello, None))

    q = targets.get("surname")
    search = Target("worklist search", f"/households/search?q={_quote(q or '')}", {**PHONE_HEADERS, **cookie},
                    detail={"q": q, "as": "officer1"})
    rows.append((search, None if q else "officer1 sees no households"))

    household = None
    for hid in targets.get("household_ids", []):
        if officer.get(f"/households/{hid}").status == 200:
            household = hid
            break
    page = Target("household page", f"/households/{household}", {**PHONE_HEADERS, **cookie},
                  detail={"household_id": household, "as": "officer1"})
    rows.append((page, None if household else "no household of officer1's grid opens"))

    from .certificates import active_token
    token = active_token(bench)
    verify = Target("verify page", f"/V/{token}", dict(PHONE_HEADERS), detail={"as": "(nobody)"})
    rows.append((verify, None if token else "no active certificate in this database"))

    form = create_form(bench, officer, targets.get("village_ids", []))
    run_tag = "L" + uuid.uuid4().hex[:8]
    if isinstance(form, str):
        create = Target("create (new household)", "/", detail={"as": "officer1"})
        rows.append((create, form))
    else:
        path, shared = form
        create = Target("create (new household)", path, {**cookie, "Accept-Language": "zh-CN,zh;q=0.9"},
                        script="create.lua", args=[path, encode_form(shared), run_tag],
                        detail={"as": "officer1", "village_form": path})
        # the form GET may have added the CSRF secret to the session: send the cookie as it is now
        create.headers["Cookie"] = officer.cookie_header()
        rows.append((create, None))

    server = None
    results: dict[tuple[str, int], dict[str, Any] | str] = {}
    try:
        try:
            server = HelloServer(bench)
            hello.port = server.port
        except Exception as exc:  # noqa: BLE001 - the other rows still print
            hello_why = f"failed to start: {exc}"
            rows[1] = (hello, hello_why)
        with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
            folder = Path(tmp)
            for target, why in rows:
                if why:
                    continue
                if target.script is None:
                    warm = Client(bench.server.host, target.port or bench.server.port)
                    warm.cookies = dict(officer.cookies) if "Cookie" in target.headers else {}
                    status = warm_up(warm, target.path)
                    warm.close()
                    if status >= 400:
                        target.detail["warm_status"] = status
                for c in CONCURRENCY:
                    if bench.time_left() <= 0:
                        results[(target.label, c)] = "not measured: the time budget ran out"
                        continue
                    echo(f"  {target.label}, c={c}")
                    try:
                        if target.script == "create.lua":
                            results[(target.label, c)] = _measure_create(bench, target, c, folder, f"{run_tag}c{c}")
                        else:
                            results[(target.label, c)] = measure(bench, target, c, folder)
                    except Exception as exc:  # noqa: BLE001 - one cell's failure is a note
                        results[(target.label, c)] = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
    finally:
        if server is not None:
            server.remember_memory()
            server.stop()
        officer.close()

    for target, why in rows:
        for c in CONCURRENCY:
            result = results.get((target.label, c))
            values: dict[str, Any] = {"connections": c, "path": _label_path(target), **target.detail}
            if why:
                yield Row(target.label, values, note=why if why.startswith("not built") else f"not measured: {why}")
                break
            if isinstance(result, str) or result is None:
                yield Row(target.label, values, note=result or "not measured")
                continue
            values.update(result)
            notes = []
            if target is not static:
                values["vs_static"] = ratio(result["rps"], _rps(results.get((static.label, c))))
            if target is not hello:
                values["vs_hello"] = ratio(result["rps"], _rps(results.get((hello.label, c))))
            notes.append(few_answers(result, c))
            if result.get("socket_errors") or result.get("timeouts"):
                notes.append(f"{result['socket_errors']} socket errors, {result['timeouts']} timeouts")
            if target.script == "create.lua":
                notes.append(_create_note(result))
            elif target.detail.get("q") and c == CONCURRENCY[0]:
                notes.append(f"q={target.detail['q']} (name search)")
            yield Row(target.label, values, note="; ".join(n for n in notes if n))


def _measure_create(bench: Bench, target: Target, c: int, folder: Path, tag: str) -> dict[str, Any]:
    args = [target.args[0], target.args[1], tag]
    result = measure(bench, target, c, folder, args=args)
    in_flight = max(0, result["issued"] - result["requests"] - result["socket_errors"])
    created = settled_count(bench, tag + "-", result["ok"] + in_flight)
    result.update({"created_in_db": created, "in_flight_at_stop": in_flight,
                   "unaccounted": created - result["ok"] - in_flight})
    return result


def create_check(ok: int, in_flight: int, created: int) -> tuple[bool, str]:
    """Does the database agree with wrk? Every 2xx/3xx answer created one household, and each request still in
    flight when wrk stopped created at most one (the server finishes it; it may also refuse it): so
    ok <= created <= ok + in_flight. (True, note) when it holds."""
    if created == ok and not in_flight:
        return True, f"DB: {created} created = {ok} 2xx/3xx ✓"
    if created == ok + in_flight:
        return True, f"DB: {created} created = {ok} 2xx/3xx + {in_flight} in flight at wrk's stop ✓"
    if ok <= created < ok + in_flight:
        return True, (f"DB: {created} created = {ok} 2xx/3xx + {created - ok} of the {in_flight} in flight at wrk's "
                      f"stop ✓")
    return False, f"DB: {created} created vs {ok} 2xx/3xx (+ {in_flight} in flight): MISMATCH"


def _create_note(result: dict[str, Any]) -> str:
    return create_check(result["ok"], result["in_flight_at_stop"], result["created_in_db"])[1]


def _rps(result) -> float | None:
    return result.get("rps") if isinstance(result, dict) else None


def _quote(text: str) -> str:
    from urllib.parse import quote
    return quote(text, safe="")


def _label_path(target: Target) -> str:
    return re.sub(r"/V/[^/?]+", "/V/<token>", target.path)
