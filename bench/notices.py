"""Public notice (公示) rows: the printed sheet of the demo's open notice, and its public page from the QR.

* notice sheet PDF: GET /notices/<id>/sheet.pdf over plain HTTP as the demo grid officer (officer1, whose village
  has the demo's open notice), twice: the first answer's seconds (WeasyPrint's first render in that worker) and
  the second's, the bytes as sent (body plus headers) and the number of A4 pages (from pdfinfo when installed);
* public notice page: /n/<token> logged out in a fresh "Galaxy S8" Chromium context (empty cache), the compressed
  bytes as sent over every request the page made, as bench/pageweight.py counts them.
Nothing is asserted: a missing notice or a failed request is a row that says so.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import time

from . import Bench, Column, Row, echo, kb, plain, producer

# bench/pageweight.py's helpers are imported where they are used: importing it here would register its producer
# first, and these two quick rows would wait behind every page of the app (and bench-quick's time budget).

COLUMNS = [
    Column("as", "as", plain),
    Column("seconds", "s", lambda v: "" if v is None else f"{v:.2f}"),
    Column("again_seconds", "again s", lambda v: "" if v is None else f"{v:.2f}"),
    Column("bytes", "KB", kb),
    Column("requests", "req", plain),
    Column("pages", "pages", plain),
]
SHEET_TARGET_S = 5.0     # a village sheet prints while the officer waits
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


def sheet_row(bench: Bench, notice: dict) -> Row:
    from .pageweight import cookie_header, http_get, login_state
    username = bench.server.logins.get("grid_officer")
    label = "notice sheet PDF"
    if username is None:
        return Row(label, note="no grid officer login in this database")
    values = {"as": username, "url": f"/notices/{notice['id']}/sheet.pdf", "items": notice["items"]}
    cookies = cookie_header(login_state(bench, username))
    timings, answer = [], None
    for _attempt in range(2):
        started = time.perf_counter()
        answer = http_get(bench, values["url"], cookies)
        timings.append(time.perf_counter() - started)
        if answer.status != 200:
            return Row(label, values, note=f"HTTP {answer.status} for {values['url']}")
    values.update(seconds=timings[0], again_seconds=timings[1], bytes=answer.bytes, requests=1,
                  pages=pdf_pages(answer.body), content_type=answer.content_type)
    note = f"{notice['village']}: {notice['items']} households"
    if timings[0] > SHEET_TARGET_S:
        note += f"; over by {timings[0] - SHEET_TARGET_S:.1f} s"
    return Row(label, values, target=f"s≤{SHEET_TARGET_S:g}", note=note)


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


@producer("notices", "Public notice (公示): the sheet PDF and the public page of the demo's open notice", COLUMNS,
          quick=True)
def notice_rows(bench: Bench):
    notice = open_notice(bench)
    if notice is None:
        yield Row("notice sheet PDF", note="no open notice in this database (the demo's notices layer adds one)")
        yield Row("public notice page", note="no open notice in this database")
        return
    for label, make in (("notice sheet PDF", sheet_row), ("public notice page", public_row)):
        if bench.time_left() <= 0:
            yield Row(label, note="not measured: bench-quick's time budget (3 minutes in all) ran out")
            continue
        echo(f"  {label}")
        try:
            yield make(bench, notice)
        except Exception as exc:  # noqa: BLE001 - one row's failure is a row, not the end of the table
            yield Row(label, note=f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:140]}")
