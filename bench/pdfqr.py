"""PDF and QR (issue 8 item 6): a 500-household notice sheet and 1,000 certificate cards beside a one-page PDF made
by the same pipeline (WeasyPrint through fieldapp/core/pdf.py, print.css, the same fonts).

The data are made for the bench in a dedicated village, 基准村 (stat code 5329999000NN, the demo county's last
township), so the demo's own villages, notices and certificates stay as they are: households through the app's
service (`households.services.create_household`), then an accepted file, a rating and a notice consent for each,
inserted in bulk as the notice tests do (tests/support/notices.py: the rating workflow is not what is measured),
then the notices drafted and scheduled and the certificates issued by their real services
(`notices.services.create_notice`, `certificates.services.issue`). Sizes: full 500 households on the notice and
1,000 cards; quick 50 and 30. The village is new in every run (a kept instance gets another one).

Rows (seconds are wall time of the whole HTTP answer as the printing user gets it, body read; the server runs with
its production flags, two workers):
* one-page baseline: GET /notices/<id>/sheet.pdf of a one-household notice of the same village (the same route,
  template, print.css and fonts as the 500-household sheet): first answers (WeasyPrint's first render in each
  worker, "first s") then the median of BASELINE_REPEATS; every other row's "vs base" is its seconds per page over
  this row's;
* notice sheet PDF, N households: the same route for the N-household notice (as hq);
* notice sheet PDF of the demo's open notice (as officer1; it was bench/notices.py's row);
* one card: GET /certificates/<id>/card.pdf (front and back, two 85.6 × 54 mm pages);
* N certificate cards: GET /villages/<id>/certificates/cards.pdf?part=1, 2, … (A4 sheets of 10, fronts then
  mirrored backs, CARDS_PER_PDF cards a part), as head office prints a village's batch, summed over the parts;
* QR codes in-process: `cards.qr_svg_data_uri` of every card's verify URL (bench.app, zh-CN; the "QR s" column),
  then (full run) the first STAGE_CARDS cards through what `cards.sheets_pdf` does, timed by stage: card data and
  template (QR included), WeasyPrint layout, PDF writing (it was bench/certificates.py's in-process 100-card
  batch, then made of unsaved copies of demo certificates; bench-quick leaves the stages to the full run).
Pages come from the renderer (in-process) or pdfinfo (over HTTP; blank when poppler-utils is missing).
Nothing is asserted: a failed step is a row that says so.
"""
from __future__ import annotations

import statistics
import time
from typing import Any

from . import Bench, Column, Row, echo, kb, plain, producer
from . import ms as ms_fmt
from . import ratio_of as ratio
from . import times as ratio_fmt

# bench/pageweight.py's helpers are imported where they are used (see bench/notices.py for why).

SIZES = {"quick": {"households": 50, "cards": 30}, "full": {"households": 500, "cards": 1_000}}
BASELINE_REPEATS = {"quick": 3, "full": 5}
WARMUP_PER_WORKER = {"quick": 1, "full": 2}   # baseline requests first, so the workers have rendered before timing
SHEET_TARGET_S = 5.0      # a village sheet prints while the officer waits
HTTP_TIMEOUT_S = 600
STAGE_CARDS = 100         # the in-process breakdown by stage (the HTTP row times the whole batch)
VILLAGE_NAME = "基准村"
VILLAGE_CODE_PREFIX = "5329999000"   # + 2 digits: 12 characters, as the demo's village stat codes
POSTING_PLACE = "村委会公示栏"
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯董程曹袁邓许傅沈彭吕苏卢蒋蔡贾丁魏薛叶余潘杜戴夏钟汪田任姜范方石姚"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛超霞平刚桂玉萍红鹏辉兵斌琴云峰倩宇浩凯健俊帆雪荣飞瑶梅鑫婷淑惠珍"
GRADES = (("excellent", 92, 200_000_00), ("good", 84, 100_000_00), ("fair", 71, 50_000_00))


def seconds_fmt(value) -> str:
    return "" if value is None else f"{value:.2f}"


def per_page_ms(seconds: float | None, pages: int | None) -> float | None:
    """Milliseconds per page, or None when either is unknown (or no page)."""
    if seconds is None or not pages:
        return None
    return seconds * 1000 / pages


def head_names(n: int) -> list[str]:
    """n distinct head names (2 and 3 characters), deterministic."""
    out: list[str] = []
    seen: set[str] = set()
    i = 0
    while len(out) < n:
        s, g1, g2 = SURNAMES[i % len(SURNAMES)], GIVEN[(i * 7) % len(GIVEN)], GIVEN[(i * 13 + 5) % len(GIVEN)]
        name = s + g1 if i % 3 == 0 else s + g1 + g2
        i += 1
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out


COLUMNS = [
    Column("as", "as", plain),
    Column("count", "n", plain),
    Column("first_seconds", "first s", seconds_fmt),
    Column("seconds", "s", seconds_fmt),
    Column("bytes", "KB", kb),
    Column("pages", "pages", plain),
    Column("ms_per_page", "ms/page", ms_fmt),
    Column("ratio", "vs base", ratio_fmt),
    Column("qr_seconds", "QR s", seconds_fmt),
]


# ---------------------------------------------------------------- the bench village

def _user(username: str | None):
    import sqlalchemy as sa
    from fieldapp.accounts.models import User
    from fieldapp.extensions import db
    return db.session.scalar(sa.select(User).where(User.username == username)) if username else None


def _new_village():
    """A fresh 基准村 in the demo county's last township, with two groups."""
    import sqlalchemy as sa
    from fieldapp.demo import org
    from fieldapp.extensions import db
    from fieldapp.org.models import County, Township, Village, VillageGroup
    county = db.session.scalar(sa.select(County).where(County.admin_code == org.COUNTY[0]))
    county = county or db.session.scalar(sa.select(County).order_by(County.id).limit(1))
    township = db.session.scalar(sa.select(Township).where(Township.county_id == county.id)
                                 .order_by(Township.stat_code.desc()).limit(1))
    taken = set(db.session.scalars(sa.select(Village.stat_code)
                                   .where(Village.stat_code.startswith(VILLAGE_CODE_PREFIX))))
    number = next(i for i in range(1, 100) if f"{VILLAGE_CODE_PREFIX}{i:02d}" not in taken)
    village = Village(county_id=county.id, township_id=township.id, stat_code=f"{VILLAGE_CODE_PREFIX}{number:02d}",
                      name=VILLAGE_NAME if number == 1 else f"{VILLAGE_NAME}{number}",
                      centroid_lat=26.53, centroid_lng=99.90)
    db.session.add(village)
    db.session.flush()
    for name in ("一组", "二组"):
        db.session.add(VillageGroup(county_id=county.id, village_id=village.id, name=name))
    db.session.flush()
    db.session.refresh(village)
    return village


def _rate(households: list, *, status: str, proposer, approver) -> None:
    """An accepted file, a rating (`status`: approved or final) and a notice consent for each household, in bulk
    (as tests/support/notices.bulk_approved_ratings)."""
    import sqlalchemy as sa
    from fieldapp.core import clock
    from fieldapp.extensions import db
    from fieldapp.households.models import CreditFile
    from fieldapp.ratings import rules as rating_rules
    from fieldapp.ratings import services as ratings
    from fieldapp.ratings.models import Rating
    from fieldapp.visits.models import Consent
    if not households:
        return
    model = ratings.current_model()
    db.session.flush()
    now, today = clock.utcnow_naive(), clock.today()
    valid_to = rating_rules.valid_to(today, model.params)
    db.session.execute(sa.insert(CreditFile), [
        {"household_id": h.id, "version_no": 1, "status": "accepted", "snapshot": {}, "submitted_at": now,
         "submitted_by": proposer.id, "reviewed_at": now, "reviewed_by": approver.id, "created_by": proposer.id}
        for h in households])
    files = dict(db.session.execute(sa.select(CreditFile.household_id, CreditFile.id).where(
        CreditFile.household_id.in_([h.id for h in households]))).all())
    rows = []
    for i, h in enumerate(households):
        grade, score, line = GRADES[i % len(GRADES)]
        rows.append({
            "county_id": h.county_id, "village_id": h.village_id, "group_id": h.group_id, "household_id": h.id,
            "live_household_id": h.id, "credit_file_id": files[h.id], "file_version_no": 1, "model_id": model.id,
            "model_version": model.version_no, "status": status, "base_score": score, "bonus": 0,
            "deduction": 0, "final_score": score, "grade": grade, "vetoes": [],
            "breakdown": {"line_parts": {"product": "standard"}}, "suggested_line_fen": line,
            "approved_line_fen": line, "approved_grade": grade, "rate_tier": rating_rules.rate_tier_for(grade),
            "proposed_by": proposer.id, "proposed_at": now, "reviewed_at": now, "approved_by": approver.id,
            "approved_role": "branch_manager", "approved_at": now, "valid_from": today, "valid_to": valid_to,
            "status_changed_at": now, "version": 1})
    db.session.execute(sa.insert(Rating), rows)
    db.session.execute(sa.insert(Consent), [
        {"household_id": h.id, "kind": "notice", "method": "signature", "recorded_by": proposer.id,
         "signed_at": now} for h in households])
    for h in households:
        h.file_status = "accepted"
    db.session.flush()


def prepare(bench: Bench, households: int, cards: int) -> dict[str, Any]:
    """The bench village: a one-household notice, an N-household notice (both scheduled: printed before posting),
    and `cards` issued certificates. Committed; returns the ids."""
    import sqlalchemy as sa
    from fieldapp.certificates import services as certificates
    from fieldapp.core import clock
    from fieldapp.extensions import db
    from fieldapp.households import services as hservices
    from fieldapp.notices import services as notices
    from fieldapp.ratings.models import Rating
    logins = bench.server.logins
    with bench.app.test_request_context("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}):
        try:
            officer, manager = _user(logins.get("grid_officer")), _user(logins.get("branch_manager"))
            if officer is None or manager is None:
                raise RuntimeError("no grid officer or branch manager login in this database")
            village = _new_village()
            groups = sorted(village.groups, key=lambda g: g.id)
            names = head_names(1 + households + cards)
            made = [hservices.create_household(village, hservices.NewHousehold(head_name=name,
                                                                                group=groups[i % len(groups)]))
                    for i, name in enumerate(names)]
            start = clock.today()

            def notice_of(people: list):
                _rate(people, status="approved", proposer=officer, approver=manager)
                notice = notices.create_notice(village, user=officer, starts_on=start, duration_days=7,
                                               posting_place=POSTING_PLACE, hotline="")
                notices.schedule(notice)
                db.session.flush()
                return notice

            baseline = notice_of(made[:1])
            big = notice_of(made[1:1 + households])
            _rate(made[1 + households:], status="final", proposer=officer, approver=manager)
            issued = []
            for rating in db.session.scalars(sa.select(Rating).where(Rating.village_id == village.id,
                                                                     Rating.status == "final").order_by(Rating.id)):
                issued.append(certificates.issue(rating, user=manager).id)
            db.session.commit()
            return {"village_id": village.id, "village": village.name, "baseline_notice": baseline.id,
                    "baseline_items": len(baseline.items), "notice": big.id, "notice_items": len(big.items),
                    "certificates": issued}
        except Exception:
            db.session.rollback()
            raise
        finally:
            db.session.remove()


# ---------------------------------------------------------------- over HTTP

def fetch(bench: Bench, path: str, cookies: str) -> tuple[float, Any]:
    """(seconds, answer) of one GET (body read)."""
    from .pageweight import http_get
    started = time.perf_counter()
    answer = http_get(bench, path, cookies, timeout=HTTP_TIMEOUT_S)
    return time.perf_counter() - started, answer


def pdf_row(bench: Bench, label: str, path: str, username: str, cookies: str, base_ms: float | None,
            **values) -> Row:
    from .notices import pdf_pages
    seconds, answer = fetch(bench, path, cookies)
    values = {"as": username, "url": path, **values}
    if answer.status != 200:
        return Row(label, values, note=f"HTTP {answer.status} for {path}")
    pages = pdf_pages(answer.body)
    ms = per_page_ms(seconds, pages)
    values.update(seconds=seconds, bytes=answer.bytes, body_bytes=len(answer.body), pages=pages, ms_per_page=ms,
                  ratio=ratio(ms, base_ms), content_type=answer.content_type)
    return Row(label, values)


def _note_over(row: Row, target_s: float) -> None:
    seconds = row.values.get("seconds")
    if seconds is not None and seconds > target_s:
        row.note = "; ".join(filter(None, [row.note, f"over by {seconds - target_s:.1f} s"]))


def in_process_cards(bench: Bench, cert_ids: list[int], base_ms: float | None, stages: bool = True) -> Row:
    """Every card's QR code in-process (`cards.qr_svg_data_uri` of its verify URL), then, with `stages`, the first
    STAGE_CARDS cards through what `cards.sheets_pdf` does, timed by stage. Nothing is written (no print counted)."""
    import sqlalchemy as sa
    from fieldapp.certificates import cards, services
    from fieldapp.certificates.models import Certificate
    from fieldapp.core import clock, pdf
    from fieldapp.extensions import db
    from flask import render_template
    with bench.app.test_request_context("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}):
        try:
            certs = list(db.session.scalars(sa.select(Certificate).where(Certificate.id.in_(cert_ids))
                                            .order_by(Certificate.cert_no)))
            urls = [services.verify_url(services.card_token(c)) for c in certs]
            t0 = time.perf_counter()
            for url in urls:
                cards.qr_svg_data_uri(url)
            qr_s = time.perf_counter() - t0
            qr_note = (f"QR codes: cards.qr_svg_data_uri of all {len(certs):,} cards' verify URLs, "
                       f"{1000 * qr_s / max(len(certs), 1):.1f} ms a card")
            if not stages:
                return Row(f"{len(certs):,} QR codes in-process", {"as": "(in-process)", "count": len(certs),
                                                                  "qr_seconds": qr_s},
                           note=f"{qr_note}; the batch by stage: full run only")
            batch = certs[:STAGE_CARDS]
            t1 = time.perf_counter()
            html = render_template("certificates/cards_sheet.html", sheets=cards.sheets(cards._cards(batch)),
                                   title="bench", printed_at=clock.utcnow_naive())
            t2 = time.perf_counter()
            document = pdf.render_document(html, stylesheets=[cards.CARDS_CSS])
            t3 = time.perf_counter()
            body = document.write_pdf(**pdf._PDF_OPTIONS)
            t4 = time.perf_counter()
        finally:
            db.session.rollback()
            db.session.remove()
    pages = len(document.pages)
    seconds = t4 - t1   # what cards.sheets_pdf does (its QR codes are made in the html stage)
    ms = per_page_ms(seconds, pages)
    values = {"as": "(in-process)", "count": len(batch), "seconds": seconds, "bytes": len(body), "pages": pages,
              "ms_per_page": ms, "ratio": ratio(ms, base_ms), "qr_seconds": qr_s, "qr_count": len(certs),
              "html_seconds": t2 - t1, "layout_seconds": t3 - t2, "write_seconds": t4 - t3}
    note = (f"{qr_note}; then {len(batch)} cards by stage: data+template (QR included) {t2 - t1:.2f}, WeasyPrint "
            f"layout {t3 - t2:.2f}, PDF write {t4 - t3:.2f} s; bytes without headers; vs base: the HTTP baseline")
    return Row(f"{len(certs):,} QR codes, {len(batch)} cards by stage, in-process", values, note=note)


@producer("pdf-qr", "PDF and QR: notice sheets and certificate cards beside a one-page PDF of the same pipeline",
          COLUMNS, quick=True)
def pdf_qr(bench: Bench):
    from .notices import open_notice
    from .pageweight import cookie_header, login_state
    size = SIZES[bench.kind]
    echo(f"  preparing {VILLAGE_NAME}: {size['households']} households on a notice, {size['cards']} certificates")
    t0 = time.monotonic()
    try:
        made = prepare(bench, size["households"], size["cards"])
    except Exception as exc:  # noqa: BLE001 - no village, no rows; say why
        yield Row("bench village", note=f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:140]}")
        return
    setup_s = time.monotonic() - t0
    hq = bench.server.logins.get("hq_admin")
    if hq is None:
        yield Row("bench village", note="no head-office (hq_admin) login in this database")
        return
    cookies = cookie_header(login_state(bench, hq))
    village = f"{made['village']} (village {made['village_id']})"

    # the baseline: warm every worker, then the median
    echo("  one-page baseline")
    base_path = f"/notices/{made['baseline_notice']}/sheet.pdf"
    workers = bench.server.describe().get("workers") or 2
    first = [fetch(bench, base_path, cookies) for _ in range(WARMUP_PER_WORKER[bench.kind] * workers)]
    if any(a.status != 200 for _s, a in first):
        yield Row("one-page baseline", {"url": base_path},
                  note=f"HTTP {[a.status for _s, a in first]} for {base_path}")
        return
    timed = [fetch(bench, base_path, cookies) for _ in range(BASELINE_REPEATS[bench.kind])]
    from .notices import pdf_pages
    base_pages = pdf_pages(timed[-1][1].body)
    base_s = statistics.median(s for s, _a in timed)
    base_ms = per_page_ms(base_s, base_pages or 1)
    yield Row("one-page baseline: notice sheet, 1 household",
              {"as": hq, "count": made["baseline_items"], "first_seconds": first[0][0], "seconds": base_s,
               "bytes": timed[-1][1].bytes, "pages": base_pages, "ms_per_page": base_ms, "ratio": 1.0,
               "first_all": [s for s, _a in first], "timed": [s for s, _a in timed], "url": base_path,
               "setup_seconds": setup_s},
              note=f"{village}; first s = first answer (a worker's first WeasyPrint render); s = median of "
                   f"{len(timed)} after {len(first)} warm-ups; bench data made in {setup_s:.1f} s")

    steps = [
        (f"notice sheet PDF, {made['notice_items']:,} households",
         lambda: _sheet(bench, made, hq, cookies, base_ms)),
        ("notice sheet PDF, demo's open notice", lambda: _demo_sheet(bench, open_notice(bench), base_ms)),
        ("one card (front and back)", lambda: pdf_row(bench, "one card (front and back)",
                                                      f"/certificates/{made['certificates'][0]}/card.pdf", hq,
                                                      cookies, base_ms, count=1)),
        (f"{len(made['certificates']):,} certificate cards",
         lambda: _cards_http(bench, made, hq, cookies, base_ms)),
        (f"{len(made['certificates']):,} cards in-process",
         lambda: in_process_cards(bench, made["certificates"], base_ms, stages=not bench.quick)),
    ]
    for label, make in steps:
        if bench.time_left() <= 0:
            yield Row(label, note=f"not measured: the {bench.kind} run's time budget ran out")
            continue
        echo(f"  {label}")
        try:
            yield make()
        except Exception as exc:  # noqa: BLE001 - one row's failure is a row, not the end of the table
            yield Row(label, note=f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:140]}")


def _sheet(bench: Bench, made: dict, hq: str, cookies: str, base_ms: float | None) -> Row:
    label = f"notice sheet PDF, {made['notice_items']:,} households"
    row = pdf_row(bench, label, f"/notices/{made['notice']}/sheet.pdf", hq, cookies, base_ms,
                  count=made["notice_items"])
    row.target = f"s≤{SHEET_TARGET_S:g}"
    row.note = row.note or f"{made['village']}: a scheduled notice (printed before posting), masked names"
    _note_over(row, SHEET_TARGET_S)
    return row


def _demo_sheet(bench: Bench, notice: dict | None, base_ms: float | None) -> Row:
    from .pageweight import cookie_header, login_state
    label = "notice sheet PDF, demo's open notice"
    if notice is None:
        return Row(label, note="no open notice in this database (the demo's notices layer adds one)")
    username = bench.server.logins.get("grid_officer")
    if username is None:
        return Row(label, note="no grid officer login in this database")
    row = pdf_row(bench, label, f"/notices/{notice['id']}/sheet.pdf", username,
                  cookie_header(login_state(bench, username)), base_ms, count=notice["items"])
    row.target = f"s≤{SHEET_TARGET_S:g}"
    row.note = row.note or f"{notice['village']}: open (frozen snapshot)"
    _note_over(row, SHEET_TARGET_S)
    return row


def _cards_http(bench: Bench, made: dict, hq: str, cookies: str, base_ms: float | None) -> Row:
    """The village's whole batch as head office prints it: every part (?part=1, 2, … of CARDS_PER_PDF cards, the
    app's bound on one WeasyPrint document) one after the other; seconds, bytes and pages summed."""
    from .notices import pdf_pages
    label = f"{len(made['certificates']):,} certificate cards"
    path = f"/villages/{made['village_id']}/certificates/cards.pdf"
    seconds = 0.0
    sizes: list[int] = []
    body_bytes = pages = 0
    part = 1
    while True:
        took, answer = fetch(bench, f"{path}?part={part}", cookies)
        if answer.status == 404 and part > 1:
            break   # past the last part
        if answer.status != 200:
            return Row(label, {"as": hq, "url": path}, note=f"HTTP {answer.status} for {path}?part={part}")
        seconds += took
        sizes.append(answer.bytes)
        body_bytes += len(answer.body)
        pages += pdf_pages(answer.body) or 0
        part += 1
    ms = per_page_ms(seconds, pages)
    return Row(label, {"as": hq, "url": path, "count": len(made["certificates"]), "seconds": seconds,
                       "bytes": sum(sizes), "body_bytes": body_bytes, "pages": pages, "ms_per_page": ms,
                       "ratio": ratio(ms, base_ms), "parts": len(sizes), "part_bytes": sizes},
               note=f"the village's batch in {len(sizes)} PDF(s) (?part=1…{len(sizes)}): A4 sheets of 10, fronts "
                    f"then mirrored backs; QR s: next row")
