"""Credit certificate (授信证) rows: the public verify page a card's QR opens, and a 100-card print batch.

* verify page: GET /V/<token> of a demo certificate that is active, logged out, over plain HTTP with
  `Accept-Encoding: br, gzip` (as pageweight's fragments): the bytes as sent (compressed body plus headers) of the
  first answer, and its latency, first and median of the next VERIFY_REPEATS (the server runs with
  RATELIMIT_ENABLED=0, so the loop is not throttled). The target is the 6 KB of issue 7.
* 100-card batch: `cards.sheets_pdf` in-process (on the bench's database, zh-CN) for 100 certificates: seconds, PDF
  bytes and pages (A4 sheets of 10, fronts then backs). The demo county has only a handful of certificates (its
  final ratings), so the batch is made up to 100 with unsaved copies of them, each with its own token, number and
  check code: every card draws its own QR code, as in a real village batch (repeating the same certificates would
  let the renderer reuse identical QR images), and nothing is written to the database the other rows measure.
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
    Column("pages", "pages", plain),
    Column("encoding", "enc", plain),
]
VERIFY_TARGET = 6 * 1024     # issue 7: the public verify page is ≤ 6 KB compressed
VERIFY_REPEATS = 20
BATCH_CARDS = 100

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


def _batch(real: list, size: int) -> list:
    """`size` certificates: the real ones, then unsaved copies of them with fresh tokens, numbers and check codes."""
    from fieldapp.certificates import rules, services
    from fieldapp.certificates.models import Certificate
    out = list(real[:size])
    copied = ("county_id", "village_id", "group_id", "household_id", "credit_line_id", "rating_id", "branch_id",
              "kind", "holder_display", "grade", "line_fen", "issued_at", "valid_to", "status")
    serial = 900000
    while len(out) < size:
        model = real[len(out) % len(real)]
        serial += 1
        prefix = model.cert_no.rsplit("-", 1)[0]
        out.append(Certificate(**{k: getattr(model, k) for k in copied}, cert_no=f"{prefix}-{serial:06d}",
                               check_code=rules.new_check_code(), token_sealed=services.seal_token(rules.new_token())))
    return out


def batch_row(bench: Bench) -> Row:
    import sqlalchemy as sa
    from fieldapp.certificates import cards
    from fieldapp.certificates.models import Certificate
    from fieldapp.extensions import db
    from .notices import pdf_pages
    label = f"{BATCH_CARDS}-card batch"
    with bench.app.test_request_context("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}):
        try:
            real = db.session.scalars(sa.select(Certificate).where(Certificate.status == "active")
                                      .order_by(Certificate.id)).all()
            real = real or db.session.scalars(sa.select(Certificate).order_by(Certificate.id)).all()
            if not real:
                return Row(label, note="no certificate in this database (the demo's certificates layer adds some)")
            batch = _batch(real, BATCH_CARDS)
            started = time.perf_counter()
            body, pages = cards.sheets_pdf(batch, title="bench")
            seconds = time.perf_counter() - started
        finally:
            db.session.rollback()
            db.session.remove()
    values = {"count": len(batch), "seconds": seconds, "bytes": len(body), "pages": pages,
              "real_certificates": min(len(real), BATCH_CARDS), "pdfinfo_pages": pdf_pages(body)}
    note = (f"cards.sheets_pdf in-process; {values['real_certificates']} demo certificates"
            + (f" + {len(batch) - len(real)} unsaved copies with their own QR" if len(batch) > len(real) else ""))
    return Row(label, values, note=note)  # issue 7 sets no time target for the batch


@producer("certificates", "Credit certificates (授信证): the public verify page and a 100-card print batch", COLUMNS,
          quick=True)
def certificate_rows(bench: Bench):
    for label, make in (("verify page", verify_row), (f"{BATCH_CARDS}-card batch", batch_row)):
        if bench.time_left() <= 0:
            yield Row(label, note="not measured: bench-quick's time budget (3 minutes in all) ran out")
            continue
        echo(f"  {label}")
        try:
            yield make(bench)
        except Exception as exc:  # noqa: BLE001 - one row's failure is a row, not the end of the table
            yield Row(label, note=f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:140]}")
