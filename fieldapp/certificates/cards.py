"""Printable certificate cards (domain W5, issue 7 item 4): ID-1 size, 85.6 × 54 mm, front and back.

Front: bank and branch, the title, masked holder, village, grade, line, valid to, number. Back: the QR code (with
its quiet zone, 26 mm) holding PUBLIC_BASE_URL/V/TOKEN, number, check code, hotline, "scan to check". Never an ID
number or a phone other than the hotline.

One card (`card_pdf`) is two card-size pages (front, back). A village batch (`sheets_pdf`) is A4 sheets of 10 cards
(2 columns × 5 rows, each card with thin corner crop marks), printed duplex: each sheet of fronts is followed by the
sheet of the same cards' backs, mirrored left-right, so a long-edge duplex print puts every back behind its front.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import qrcode
import qrcode.constants
import qrcode.image.svg
from flask import render_template
from flask_babel import gettext as _

from ..core import clock, pdf
from ..extensions import db
from ..org.models import Branch, Village
from ..ratings import rules as rating_rules
from . import rules, services
from .models import Certificate

CARDS_CSS = str(Path(__file__).resolve().parent.parent / "static" / "certificate_cards.css")
COLS, ROWS = 2, 5
PER_SHEET = COLS * ROWS


def qr_code(text: str) -> qrcode.QRCode:
    """The QR code of `text` at error correction M with the standard 4-module quiet zone."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(text)
    code.make(fit=True)
    return code


def qr_svg_data_uri(text: str) -> str:
    """The QR code as a vector SVG data: URI (crisp at any print resolution; the PDF renderer fetches nothing)."""
    svg = qr_code(text).make_image(image_factory=qrcode.image.svg.SvgPathImage).to_string()
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


@dataclass
class Card:
    cert_id: int
    bank: str
    branch: str
    title: str
    holder: str
    village: str
    grade: str
    line: str
    valid_to: str
    cert_no: str
    check_code: str
    hotline: str
    qr: str
    verify_hint: str


def card_data(cert: Certificate, *, villages: dict | None = None, branches: dict | None = None) -> Card:
    s = services.settings()
    village = (villages or {}).get(cert.village_id) or db.session.get(Village, cert.village_id)
    branch = None
    if cert.branch_id:
        branch = (branches or {}).get(cert.branch_id) or db.session.get(Branch, cert.branch_id)
    url = services.verify_url(services.card_token(cert))
    host = urlsplit(s.base_url).netloc
    return Card(cert_id=cert.id, bank=s.bank, branch=branch.name if branch else "",
                title=_(rules.KIND_LABELS.get(cert.kind, cert.kind)), holder=cert.holder_display,
                village=village.name if village else "",
                grade=_(rating_rules.GRADE_LABELS.get(cert.grade, cert.grade)), line=rules.wan_text(cert.line_fen),
                valid_to=cert.valid_to.isoformat(), cert_no=cert.cert_no, check_code=cert.check_code,
                hotline=s.hotline, qr=qr_svg_data_uri(url),
                verify_hint=_("Or open %(address)s and type the number and check code.", address=f"{host}/V"))


def _cards(certs: list[Certificate]) -> list[Card]:
    village_ids = {c.village_id for c in certs}
    branch_ids = {c.branch_id for c in certs if c.branch_id}
    villages = {v.id: v for v in db.session.query(Village).filter(Village.id.in_(village_ids))} if village_ids else {}
    branches = {b.id: b for b in db.session.query(Branch).filter(Branch.id.in_(branch_ids))} if branch_ids else {}
    return [card_data(c, villages=villages, branches=branches) for c in certs]


def card_pdf(cert: Certificate) -> bytes:
    """One card: a front page and a back page, each 85.6 × 54 mm."""
    html = render_template("certificates/card.html", cards=_cards([cert]), printed_at=clock.utcnow_naive())
    return pdf.render_pdf(html, stylesheets=[CARDS_CSS])


@dataclass
class Slot:
    index: int   # 0..9: row-major position on the sheet (CSS class slot-<index>)
    card: Card


@dataclass
class Sheet:
    side: str    # front | back
    number: int  # 1-based sheet number
    slots: list[Slot]


def mirrored(index: int) -> int:
    """The slot of a card's back: same row, the other column (long-edge duplex)."""
    row, col = divmod(index, COLS)
    return row * COLS + (COLS - 1 - col)


def sheets(cards: list[Card]) -> list[Sheet]:
    """Fronts then mirrored backs, sheet by sheet."""
    result = []
    for number, start in enumerate(range(0, len(cards), PER_SHEET), start=1):
        chunk = cards[start:start + PER_SHEET]
        result.append(Sheet("front", number, [Slot(i, card) for i, card in enumerate(chunk)]))
        result.append(Sheet("back", number, [Slot(mirrored(i), card) for i, card in enumerate(chunk)]))
    return result


def sheets_pdf(certs: list[Certificate], *, title: str = "") -> tuple[bytes, int]:
    """A4 sheets of 10 cards with crop marks, fronts then backs (duplex); returns (pdf, page count)."""
    html = render_template("certificates/cards_sheet.html", sheets=sheets(_cards(certs)), title=title,
                           printed_at=clock.utcnow_naive())
    return pdf.render_pdf_with_pages(html, stylesheets=[CARDS_CSS])
