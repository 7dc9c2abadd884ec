"""`python -m bench.report`: the README's Performance table, in Markdown, from the latest full results JSON of each
engine in bench/results/ (the key rows; the JSON files hold every row and number).

Run: .venv/bin/python -m bench.report [--readme] [FILE.json ...]
(--readme rewrites the table between the bench.report markers in README.md instead of printing it)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from . import RESULTS

ENGINES = ("sqlite", "postgresql")
# page-weight rows shown (the JSON has every page)
KEY_PAGES = ("/login", "/worklist", "/households/search", "/households/<household_id>",
             "/worklist/villages/<village_id>/households/new", "/households/<household_id>/visits/new",
             "/n/<token>", "/V/<cert_token>")


def latest(engine: str) -> Path | None:
    """The newest full run of `engine` (results named <date>-<engine>.json)."""
    found = sorted(p for p in RESULTS.glob(f"*-{engine}.json")
                   if json.loads(p.read_text()).get("kind") == "full")
    return found[-1] if found else None


def rows_of(doc: dict, name: str) -> list[dict]:
    for sec in doc["sections"]:
        if sec["name"] == name:
            return sec["rows"]
    return []


def num(value, digits: int = 0, unit: str = "") -> str:
    if value is None or value == "":
        return "—"
    return f"{value:,.{digits}f}{unit}"


def ratio(value) -> str:
    return "—" if value is None else f"×{value:.2f}"


def kb(value) -> str:
    return "—" if value is None else f"{value / 1024:.1f}"


def table(headers: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def report(docs: dict[str, dict]) -> str:
    out: list[str] = []
    engines = list(docs)
    first = docs[engines[0]]
    m = first["machine"]
    runs = ", ".join(f"{e} {d['date']} (commit {str(d['machine'].get('commit') or '?')[:7]}, "
                     f"{d['elapsed_s'] / 60:.0f} min)" for e, d in docs.items())
    out.append(f"Latest full runs: {runs}. Machine: {m['cpu']}, {m['cores']} cores, {m['memory']}; Python "
               f"{m['python']}, SQLite {m['sqlite']}"
               + "".join(f", PostgreSQL {d['machine']['database']}" for d in docs.values()
                         if d["machine"].get("database"))
               + (f", Chromium {m['chromium']}" if m.get("chromium") else "")
               + (f", wrk {m['wrk']}" if m.get("wrk") else "") + ". "
               "Ratios compare with a baseline measured in the same run.")

    # page weight (one engine: bytes do not depend on the database)
    pw = {r["item"]: r for r in rows_of(first, "pageweight")}
    pages = [r for r in pw.values() if r["values"].get("cold_bytes") and r["values"].get("kind") in
             ("page", "form", "verify")]
    over = [r for r in pages if "over" in r["note"]]
    body = []
    for item in KEY_PAGES:
        r = pw.get(item)
        if r is None:
            continue
        v = r["values"]
        body.append([f"`{item}`", v.get("kind", ""), kb(v.get("cold_bytes")), kb(v.get("warm_bytes")),
                     kb(v.get("fragment_bytes")), num(v.get("g3_cold_ms")), num(v.get("g3_warm_ms")), r["target"]])
    out.append(f"\n**Page weight** ({engines[0]}; KB compressed as sent; {len(pages)} pages measured, "
               f"{len(over)} over a target"
               + (": " + ", ".join(f"`{r['item']}` ({r['note']})" for r in over) if over else "") + ")\n")
    out.append(table(["page", "kind", "cold KB", "warm KB", "frag KB", "3G cold ms", "3G warm ms", "target"], body))

    # latency
    body = []
    for e, d in docs.items():
        for r in rows_of(d, "latency"):
            v = r["values"]
            if not v.get("connections"):
                continue
            body.append([e, r["item"], str(v["connections"]), num(v.get("p50_ms"), 1), num(v.get("p95_ms"), 1),
                         num(v.get("p99_ms"), 1), num(v.get("rps")), ratio(v.get("vs_static")),
                         ratio(v.get("vs_hello"))])
    out.append("\n**Latency under load** (wrk on one core, gunicorn on the other; a county of "
               f"{first['server'].get('households', 0):,} households)\n")
    out.append(table(["engine", "request", "conn", "p50 ms", "p95 ms", "p99 ms", "req/s", "÷ static", "÷ hello"],
                     body))

    # ingest, photos, pdf, scale, memory: engine by engine, the headline rows
    body = []
    for e, d in docs.items():
        for r in rows_of(d, "ingest"):
            v = r["values"]
            if "creates_per_s" in v:
                body.append([e, r["item"], num(v.get("creates_per_s"), 1), num(v.get("created_in_db")),
                             num(v.get("duplicates")), num(v.get("replayed")), ratio(v.get("vs_static"))])
    out.append("\n**Ingest** (creates through the form with real CSRF tokens and idempotency keys)\n")
    out.append(table(["engine", "run", "creates/s", "in DB", "duplicates", "replayed", "÷ static"], body))

    body = []
    for e, d in docs.items():
        for r in rows_of(d, "photos"):
            v = r["values"]
            body.append([e, r["item"], num(v.get("p50_ms"), 0), num(v.get("p95_ms"), 0), kb(v.get("input_bytes")),
                         kb(v.get("output_bytes")), kb(v.get("thumb_bytes")), ratio(v.get("ratio"))])
    out.append("\n**Photos** (12 MP inputs; ratio = pipeline p50 ÷ plain Pillow p50, or bytes sent ÷ file)\n")
    out.append(table(["engine", "row", "p50 ms", "p95 ms", "in KB", "out KB", "thumb KB", "ratio"], body))

    body = []
    for e, d in docs.items():
        for r in rows_of(d, "pdf-qr"):
            v = r["values"]
            body.append([e, r["item"], num(v.get("seconds"), 2), num(v.get("pages")), kb(v.get("bytes")),
                         num(v.get("ms_per_page"), 0), ratio(v.get("ratio")), num(v.get("qr_seconds"), 2)])
    out.append("\n**PDF and QR** (ratio = ms per page ÷ the one-page baseline's)\n")
    out.append(table(["engine", "document", "s", "pages", "KB", "ms/page", "vs base", "QR s"], body))

    body = []
    for e, d in docs.items():
        for r in rows_of(d, "scale"):
            v = r["values"]
            if v.get("connections"):
                body.append([e, r["item"], str(v["connections"]), num(v.get("small_p50_ms"), 1),
                             num(v.get("big_p50_ms"), 1), ratio(v.get("p50_ratio")), ratio(v.get("rps_ratio"))])
            elif v.get("seconds") is not None:
                body.append([e, r["item"], "", "", "", "", f"{v['seconds']:.0f} s"])
        for r in rows_of(d, "memory"):
            v = r["values"]
            if r["item"].startswith("worker peak") and v.get("hwm_bytes"):
                body.append([e, r["item"].replace("worker peak", "worker peak RSS"), "", "", "",
                             f"{v['hwm_bytes'] / 2**20:.0f} MiB",
                             ratio(v.get("vs_hello")) + " hello"])
    out.append("\n**Scale** (p50 at 1,000 and at 100,000 households; load times; memory)\n")
    out.append(table(["engine", "row", "conn", "1,000 p50 ms", "100,000 p50 ms", "p50 ratio", "req/s ratio"], body))
    return "\n".join(out) + "\n"


README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- bench.report: start -->", "<!-- bench.report: end -->"


def into_readme(text: str, readme: Path = README) -> None:
    """Replace what stands between the markers in README.md."""
    doc = readme.read_text()
    head, rest = doc.split(START, 1)
    _old, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{text}{END}{tail}")


def main(argv: list[str]) -> int:
    to_readme = "--readme" in argv
    argv = [a for a in argv if a != "--readme"]
    paths = [Path(a) for a in argv] or [p for p in (latest(e) for e in ENGINES) if p]
    if not paths:
        print("no full results in bench/results (run `make bench`)", file=sys.stderr)
        return 1
    docs = {}
    for path in paths:
        doc = json.loads(path.read_text())
        docs[doc["server"]["engine"]] = doc
    if to_readme:
        into_readme(report(docs))
    else:
        print(report(docs), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
