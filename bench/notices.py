"""Public notice (公示) row: the public page of the demo's open notice, as the QR on the posted sheet opens it.

* public notice page: /n/<token> logged out in a fresh "Galaxy S8" Chromium context (empty cache), the compressed
  bytes as sent over every request the page made, as bench/pageweight.py counts them.
The printed sheet's rows (the demo's open notice, and a 500-household one beside a one-page baseline) are in
bench/pdfqr.py, which uses `open_notice` and `pdf_pages` from here. Nothing is asserted: a missing notice or a
failed request is a row that says so.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import time

from . import Bench, Column, Row, echo, kb, plain, producer

# bench/pageweight.py's helpers are imported where they are used: importing it here would register its producer
# first, and this quick row would wait behind every page of the app (and bench-quick's time budget).

COLUMNS = [
    Column("as", "as", plain),
    Column("seconds", "s", lambda v: "" if v is None else f"{v:.2f}"),
    Column("bytes", "KB", kb),
    Column("requests", "req", plain),
]
PUBLIC_TARGET = 40 * 1024  # the public page is a form's sibling on a villager's phone: the cold form target


def open_notice(bench: Bench) -> dict | None:
    """The demo's open notice (the first open one that is not a supplement): id, token, items, village."""
    import sqlalchemy as sa
    from fieldapp.extensions import db
    from fieldapp.notices.models import Notice, NoticeItem
    from fieldapp.org.models import Village
    with bench.app.app_context():
        try:
            notice = db.session.scalar(sa.select(Notice).where(Notice.status == "open", Notice.supplement.is_(False))
                                       .order_by(Notice.id).limit(1))
            if notice is None:
                return None
            items = db.session.scalar(sa.select(sa.func.count()).select_from(NoticeItem)
                                      .where(NoticeItem.notice_id == notice.id))
            village = db.session.get(Village, notice.village_id)
            return {"id": notice.id, "token": notice.public_token, "items": items, "village": village.name}
        finally:
            db.session.remove()


def pdf_pages(body: bytes) -> int | None:
    if not shutil.which("pdfinfo"):
        return None
    out = subprocess.run(["pdfinfo", "-"], input=body, capture_output=True, timeout=60)
    match = re.search(rb"^Pages:\s+(\d+)", out.stdout, re.M)
    return int(match.group(1)) if match else None


def public_row(bench: Bench, notice: dict) -> Row:
    from .pageweight import NetLog, load, new_context
    label = "public notice page"
    url = f"/n/{notice['token']}"
    values = {"as": "(nobody)", "url": "/n/<token>", "items": notice["items"]}
    ctx = new_context(bench)
    try:
        page = ctx.new_page()
        log = NetLog(ctx.new_cdp_session(page))
        started = time.perf_counter()
        cold = load(page, log, url)
        values.update(seconds=time.perf_counter() - started, bytes=cold["bytes"], requests=cold["requests"],
                      encoding=cold["encoding"], status=cold["status"], detail=cold["detail"])
    finally:
        ctx.close()
    notes = [f"cold, logged out; {notice['items']} households; {cold['encoding']}"]
    if cold["status"] != 200:
        notes.append(f"HTTP {cold['status']}")
    if cold["bytes"] > PUBLIC_TARGET:
        notes.append(f"cold over by {(cold['bytes'] - PUBLIC_TARGET) / 1024:.1f} KB")
    return Row(label, values, target=f"cold≤{PUBLIC_TARGET // 1024}", note="; ".join(notes))


@producer("notices", "Public notice (公示): the public page of the demo's open notice", COLUMNS, quick=True)
def notice_rows(bench: Bench):
    notice = open_notice(bench)
    if notice is None:
        yield Row("public notice page", note="no open notice in this database (the demo's notices layer adds one)")
        return
    for label, make in (("public notice page", public_row),):
        if bench.time_left() <= 0:
            yield Row(label, note=f"not measured: the {bench.kind} run's time budget ran out")
            continue
        echo(f"  {label}")
        try:
            yield make(bench, notice)
        except Exception as exc:  # noqa: BLE001 - one row's failure is a row, not the end of the table
            yield Row(label, note=f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:140]}")
