"""Credit certificate (授信证) row: the public verify page a card's QR opens.

* verify page: GET /V/<token> of a demo certificate that is active, logged out, over plain HTTP with
  `Accept-Encoding: br, gzip` (as pageweight's fragments): the bytes as sent (compressed body plus headers) of the
  first answer, and its latency, first and median of the next VERIFY_REPEATS (the server runs with
  RATELIMIT_ENABLED=0, so the loop is not throttled). The target is the 6 KB of issue 7.
The print batch (1,000 cards over HTTP and in-process, QR codes timed alone) is in bench/pdfqr.py.
Nothing is asserted: a missing certificate or a failed request is a row that says so.
"""
from __future__ import annotations

import statistics
import time

from . import Bench, Column, Row, echo, kb, plain, producer

# bench/pageweight.py's helpers are imported where they are used (see bench/notices.py for why).

COLUMNS = [
    Column("count", "n", plain),
    Column("seconds", "s", lambda v: "" if v is None else f"{v:.3f}"),
    Column("median_seconds", "median s", lambda v: "" if v is None else f"{v:.3f}"),
    Column("bytes", "KB", kb),
    Column("encoding", "enc", plain),
]
VERIFY_TARGET = 6 * 1024     # issue 7: the public verify page is ≤ 6 KB compressed
VERIFY_REPEATS = 20

STATUS_ORDER = ("active", "suspended", "expired", "superseded", "issued", "revoked")


def demo_tokens(bench: Bench, limit: int, statuses: tuple[str, ...] = STATUS_ORDER) -> list[str]:
    """QR tokens of the database's certificates, active ones first (needs an app context of bench.app)."""
    import sqlalchemy as sa
    from fieldapp.certificates import services
    from fieldapp.certificates.models import Certificate
    from fieldapp.extensions import db
    rank = sa.case({s: i for i, s in enumerate(statuses)}, value=Certificate.status, else_=len(statuses))
    certs = db.session.scalars(sa.select(Certificate).where(Certificate.status.in_(statuses))
                               .order_by(rank, Certificate.id).limit(limit)).all()
    return [services.card_token(c) for c in certs]


def active_token(bench: Bench) -> str | None:
    from fieldapp.extensions import db
    with bench.app.app_context():
        try:
            tokens = demo_tokens(bench, 1, ("active",))
            return tokens[0] if tokens else None
        finally:
            db.session.remove()


def verify_row(bench: Bench) -> Row:
    from .pageweight import http_get
    label = "verify page"
    token = active_token(bench)
    if token is None:
        return Row(label, note="no active certificate in this database (the demo's certificates layer adds some)")
    url = f"/V/{token}"
    started = time.perf_counter()
    first = http_get(bench, url)
    first_s = time.perf_counter() - started
    timings = []
    for _attempt in range(VERIFY_REPEATS):
        started = time.perf_counter()
        http_get(bench, url)
        timings.append(time.perf_counter() - started)
    values = {"as": "(nobody)", "url": "/V/<token>", "count": 1 + VERIFY_REPEATS, "seconds": first_s,
              "median_seconds": statistics.median(timings), "bytes": first.bytes, "body_bytes": len(first.body),
              "encoding": first.encoding, "status": first.status,
              "cache_control": first.headers.get("cache-control")}
    notes = [f"logged out, over HTTP; s = first request, median of the next {VERIFY_REPEATS}"]
    if first.status != 200:
        notes.append(f"HTTP {first.status}")
    elif "<html" not in first.text()[:2000].lower():
        notes.append("not a page")
    if first.bytes > VERIFY_TARGET:
        notes.append(f"over by {(first.bytes - VERIFY_TARGET) / 1024:.1f} KB")
    return Row(label, values, target=f"KB≤{VERIFY_TARGET // 1024}", note="; ".join(notes))


@producer("certificates", "Credit certificates (授信证): the public verify page", COLUMNS, quick=True)
def certificate_rows(bench: Bench):
    for label, make in (("verify page", verify_row),):
        if bench.time_left() <= 0:
            yield Row(label, note=f"not measured: the {bench.kind} run's time budget ran out")
            continue
        echo(f"  {label}")
        try:
            yield make(bench)
        except Exception as exc:  # noqa: BLE001 - one row's failure is a row, not the end of the table
            yield Row(label, note=f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:140]}")
