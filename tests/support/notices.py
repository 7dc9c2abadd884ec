"""Shared helpers for the notice scenario tests (SC-01 replay, the 500-household sheet): the local test clock, a
board photo with its GPS in EXIF, logged-in clients, PDF text and pages through poppler, and approved ratings inserted
in bulk for a large village.
"""
from __future__ import annotations

import io
import re
import subprocess
from datetime import date, datetime, time
from pathlib import Path

import sqlalchemy as sa
from PIL import Image

from fieldapp.core import clock
from fieldapp.extensions import db
from fieldapp.households.models import CreditFile, Household
from fieldapp.ratings import rules as rating_rules
from fieldapp.ratings import services as ratings
from fieldapp.ratings.models import Rating
from fieldapp.visits.models import Consent
from tests.conftest import login

CENTRE = (26.5300, 99.9000)  # the village centre (lat, lng) the scenario tests give their village
HOTLINE = "0872-1234567"


# ---------------------------------------------------------------- clock and clients

def at_day(app, day: date, hour: int = 10) -> None:
    """Move the test clock to `hour`:00 Asia/Shanghai on `day` (the villages' calendar)."""
    clock.set_now(app, datetime.combine(day, time(hour, 0), tzinfo=clock.LOCAL_TZ))


def client_for(app, user, lang: str = "en"):
    """A test client logged in as `user` through the real login form, showing English msgids."""
    c = app.test_client()
    c.set_cookie("lang", lang)
    login(c, user)
    return c


def public_client(app, lang: str = "en"):
    c = app.test_client()
    c.set_cookie("lang", lang)
    return c


# ---------------------------------------------------------------- the posting photo (N-3)

def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees = int(value)
    minutes_full = (value - degrees) * 60
    minutes = int(minutes_full)
    return float(degrees), float(minutes), round((minutes_full - minutes) * 60, 4)


def board_photo(lat: float, lng: float, size=(640, 480)) -> bytes:
    """A real JPEG (Pillow) of "the sheet on the village board" whose EXIF carries the GPS position (lat, lng)."""
    image = Image.new("RGB", size, (214, 200, 160))
    for x in range(40, size[0] - 40, 16):  # some lines, so it is not one flat colour
        for y in range(60, size[1] - 60):
            image.putpixel((x, y), (40, 40, 40))
    exif = Image.Exif()
    exif[0x010F] = "TestPhone"
    exif[0x8825] = {1: "N" if lat >= 0 else "S", 2: _dms(lat), 3: "E" if lng >= 0 else "W", 4: _dms(lng)}
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=85, exif=exif.tobytes())
    return buf.getvalue()


def metres_north(lat: float, metres: float) -> float:
    """The latitude `metres` north of `lat` (one degree of latitude is about 111.2 km)."""
    return lat + metres / 111_195.0


# ---------------------------------------------------------------- PDFs (poppler-utils)

def pdf_pages(data: bytes) -> int:
    out = subprocess.run(["pdfinfo", "-"], input=data, capture_output=True, check=True, timeout=60).stdout.decode()
    return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))


def pdf_text(data: bytes, page: int | None = None) -> str:
    """pdftotext of the whole document (or one page), as extracted (whitespace kept)."""
    args = ["-f", str(page), "-l", str(page)] if page else []
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", *args, "-", "-"], input=data, capture_output=True,
                         check=True, timeout=120)
    return out.stdout.decode("utf-8")


def pdf_page_texts(data: bytes) -> list[str]:
    """Each page's text, in order (pdftotext separates pages with a form feed)."""
    pages = pdf_text(data).split("\f")
    if pages and not pages[-1].strip():
        pages = pages[:-1]
    return pages


def flat(text: str) -> str:
    """Text without any whitespace (pdftotext breaks CJK lines and table cells anywhere)."""
    return re.sub(r"\s+", "", text)


def page_png(data: bytes, workdir: Path, page: int = 1, dpi: int = 150) -> Path:
    """One page of the PDF as a PNG (pdftoppm -r dpi), e.g. to decode its QR code with zxingcpp."""
    pdf = workdir / "sheet.pdf"
    pdf.write_bytes(data)
    prefix = workdir / f"page{page}"
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", "-f", str(page), "-l", str(page), str(pdf), str(prefix)],
                   check=True, timeout=120)
    [png] = sorted(workdir.glob(f"page{page}*.png"))
    return png


# ---------------------------------------------------------------- bulk approved ratings (for the big sheet)

def bulk_approved_ratings(households: list[Household], *, proposer, approver, grade_line) -> None:
    """An accepted credit file, an approved live rating and a notice consent for each household, inserted in bulk
    (three INSERT statements): realistic rows for a sheet test where the rating workflow itself is not under test.

    `grade_line(i)` gives (score, grade, line_fen) for the i-th household.
    """
    model = ratings.current_model()
    db.session.flush()
    now = clock.utcnow_naive()
    today = clock.today()
    valid_to = rating_rules.valid_to(today, model.params)
    db.session.execute(sa.insert(CreditFile), [
        {"household_id": h.id, "version_no": 1, "status": "accepted", "snapshot": {}, "submitted_at": now,
         "submitted_by": proposer.id, "reviewed_at": now, "reviewed_by": approver.id, "created_by": proposer.id}
        for h in households])
    files = dict(db.session.execute(sa.select(CreditFile.household_id, CreditFile.id).where(
        CreditFile.household_id.in_([h.id for h in households]))).all())
    rows = []
    for i, h in enumerate(households):
        score, grade, line = grade_line(i)
        rows.append({
            "county_id": h.county_id, "village_id": h.village_id, "group_id": h.group_id, "household_id": h.id,
            "live_household_id": h.id, "credit_file_id": files[h.id], "file_version_no": 1, "model_id": model.id,
            "model_version": model.version_no, "status": "approved", "base_score": score, "bonus": 0,
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
    db.session.commit()
