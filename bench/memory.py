"""Peak memory of the app's gunicorn, read LAST (bench/__init__.py LAST), after every other producer has loaded it.

For the master (bench.server.proc.pid) and each worker (its children: /proc/<pid>/task/*/children, else a scan of
/proc for PPid): VmHWM (peak resident set since the process started) and VmRSS (now) from /proc/<pid>/status. The
first row is the largest worker peak; the master and each worker follow. gunicorn runs without --preload (as
`make run`), so the master has not imported the app: each worker imports it itself.

Baseline: the peak of a worker of bench/hello.py (a bare Flask app under the same gunicorn flags), read by
bench/latency.py after its wrk runs; when that did not run, this producer serves hello for a moment itself
(HELLO_REQUESTS requests). Each row prints ÷hello: what our app and its data cost beyond Flask.
"""
from __future__ import annotations

from pathlib import Path

from . import Bench, Column, Row, kb, plain, producer

COLUMNS = [
    Column("pid", "pid", plain),
    Column("hwm_bytes", "peak RSS KB", kb),
    Column("rss_bytes", "RSS now KB", kb),
    Column("vs_hello", "÷hello", lambda v: "" if v is None else f"x{v:.2f}"),
]
PROC = Path("/proc")
HELLO_REQUESTS = 200


# ---------------------------------------------------------------- pure helpers (tests/unit/test_bench_memory.py)

def parse_status(text: str) -> dict[str, int]:
    """The memory lines of /proc/<pid>/status (VmHWM, VmRSS, ...) in bytes, and PPid."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, sep, rest = line.partition(":")
        if not sep:
            continue
        parts = rest.split()
        if key == "PPid" and parts:
            out["PPid"] = int(parts[0])
        elif key.startswith("Vm") and len(parts) == 2 and parts[1].lower() == "kb":
            out[key] = int(parts[0]) * 1024
    return out


def parse_children(texts: list[str]) -> list[int]:
    """Pids listed in /proc/<pid>/task/*/children files (space-separated), deduplicated, in order."""
    seen: dict[int, None] = {}
    for text in texts:
        for word in text.split():
            if word.isdigit():
                seen.setdefault(int(word), None)
    return list(seen)


# ---------------------------------------------------------------- /proc

def status(pid: int) -> dict[str, int] | None:
    try:
        return parse_status((PROC / str(pid) / "status").read_text())
    except OSError:
        return None


def children(pid: int) -> list[int]:
    texts = []
    for child_file in (PROC / str(pid) / "task").glob("*/children"):
        try:
            texts.append(child_file.read_text())
        except OSError:
            pass
    found = parse_children(texts)
    if found:
        return found
    out = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            st = status(int(entry.name))
            if st and st.get("PPid") == pid:
                out.append(int(entry.name))
    return sorted(out)


def worker_peaks(master_pid: int) -> list[int]:
    """VmHWM (bytes) of each child of a gunicorn master."""
    out = []
    for pid in children(master_pid):
        st = status(pid)
        if st and st.get("VmHWM"):
            out.append(st["VmHWM"])
    return out


def hello_peak(bench: Bench) -> tuple[int | None, str]:
    """The hello baseline's worker peak: bench/latency.py's, else measured here."""
    if bench.shared.get("hello_worker_hwm"):
        return bench.shared["hello_worker_hwm"], "after bench/latency.py's wrk runs"
    from .client import Client
    from .latency import HelloServer
    try:
        server = HelloServer(bench)
    except Exception as exc:  # noqa: BLE001 - no baseline, the rows still print
        return None, f"the hello server did not start: {exc}"
    try:
        client = Client(bench.server.host, server.port)
        for _ in range(HELLO_REQUESTS):
            client.get("/")
        client.close()
        peaks = worker_peaks(server.proc.pid)
    finally:
        server.stop()
    return (max(peaks) if peaks else None), f"after {HELLO_REQUESTS} requests"


@producer("memory", "Memory: peak RSS (VmHWM) of the gunicorn master and each worker, after every other row",
          COLUMNS, quick=True, always=True)
def memory(bench: Bench):
    proc = bench.server.proc
    if proc is None or proc.poll() is not None:
        yield Row("gunicorn", note="not measured: the server is not running")
        return
    master = status(proc.pid)
    if master is None:
        yield Row("gunicorn", note=f"not measured: /proc/{proc.pid}/status is unreadable")
        return
    workers = [(pid, status(pid)) for pid in children(proc.pid)]
    workers = [(pid, st) for pid, st in workers if st]
    base, how = hello_peak(bench)

    def values(pid: int | None, st: dict[str, int]) -> dict:
        hwm = st.get("VmHWM")
        return {"pid": pid, "hwm_bytes": hwm, "rss_bytes": st.get("VmRSS"),
                "vs_hello": hwm / base if hwm and base else None}

    if workers:
        pid, st = max(workers, key=lambda w: w[1].get("VmHWM", 0))
        yield Row("worker peak (max)", values(pid, st), note=f"of {len(workers)} workers, after every other row")
    else:
        yield Row("worker peak (max)", note="no worker processes found")
    yield Row("master", values(proc.pid, master), note="no --preload: the master has not imported the app")
    for i, (pid, st) in enumerate(sorted(workers), start=1):
        yield Row(f"worker {i}", values(pid, st))
    for name, peak in bench.shared.get("worker_peaks", []):
        yield Row(f"worker peak after {name}", {"hwm_bytes": peak or None,
                                                "vs_hello": peak / base if peak and base else None},
                  note="the highest worker VmHWM once this block had run")
    yield Row("hello worker (baseline)", values(None, {"VmHWM": base}) if base else {},
              note=f"a bare Flask app under the same gunicorn flags, {how}")
