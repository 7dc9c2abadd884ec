"""Notice use cases (domain W4): build a batch from approved, consented ratings; schedule, open with the posting
photo, close and finalise; supplementary re-notices; private notices (N-5). Every decision is asked of rules.py.

Functions take plain inputs and the current session; they flush, never commit (the view or the tick commits).
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from ..core import audit, clock, jobs
from ..core.clock import utcnow_naive
from ..core.masking import mask_name
from ..extensions import db
from ..households.models import Household
from ..org.models import Branch, County, Grid, GridArea, Township, Village, VillageGroup
from ..ratings import services as ratings
from ..ratings.models import Rating
from ..ratings.services import Refused
from ..visits import pipeline, store
from ..visits.models import Consent
from . import rules
from .models import Notice, NoticeItem, Objection, PrivateNotice

__all__ = [
    "Refused", "eligible_ratings", "private_ratings", "create_notice", "schedule", "cancel", "open_notice",
    "refresh", "open_objections", "blocking_objections", "create_supplement", "close_due", "public_url",
    "notice_or_none", "item_of", "items_of", "notice_by_token", "snapshot_of", "new_receipt", "sheet_context",
    "record_delivery", "settings",
]

NOTICE_CONSENT = "notice"  # visits.models.CONSENT_KINDS: 公示同意
ACTIVE_NOTICE = ("draft", "scheduled", "open", "closed")
CLOSABLE = ("open", "closed")


@dataclass(frozen=True)
class Settings:
    days: int
    min_days: int
    max_days: int
    renotice_days: int
    radius_m: float
    keep_days: int
    hotline: str
    bank: str


def settings() -> Settings:
    c = current_app.config
    return Settings(days=int(c.get("NOTICE_DAYS", rules.DEFAULT_DAYS)),
                    min_days=int(c.get("NOTICE_MIN_DAYS", rules.MIN_DAYS)),
                    max_days=int(c.get("NOTICE_MAX_DAYS", rules.MAX_DAYS)),
                    renotice_days=int(c.get("RENOTICE_DAYS", rules.RENOTICE_DAYS)),
                    radius_m=float(c.get("NOTICE_POSTING_RADIUS_M", rules.POSTING_RADIUS_M)),
                    keep_days=int(c.get("NOTICE_LIST_KEEP_DAYS", 30)),
                    hotline=str(c.get("NOTICE_HOTLINE", "")), bank=str(c.get("BANK_NAME", "")))


def public_url(notice: Notice) -> str:
    """The absolute address of the notice's public page (what the QR code holds)."""
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/n/{notice.public_token}"


def new_receipt() -> str:
    """A fresh objection receipt number (rules.new_receipt with the test clock's year)."""
    return rules.new_receipt(secrets.token_bytes(6), year=clock.today().year)


def _transition(notice: Notice, event: str) -> None:
    try:
        notice.status = rules.next_status(notice.status, event)
    except rules.TransitionRefused as exc:
        raise Refused(_("This notice cannot take that step now (it is %(status)s).",
                        status=_(rules.STATUS_LABELS.get(notice.status, notice.status))),
                      code="transition") from exc


# ---------------------------------------------------------------- lookups (also used by the public and objection pages)

def notice_or_none(notice_id: int) -> Notice | None:
    return db.session.get(Notice, notice_id)


def notice_by_token(token: str) -> Notice | None:
    """The notice behind a public address (None for an unknown or malformed token)."""
    token = (token or "").strip()
    if not token or len(token) > 32:
        return None
    return db.session.scalar(sa.select(Notice).where(Notice.public_token == token))


def items_of(notice: Notice, group_name: str | None = None) -> list[NoticeItem]:
    stmt = sa.select(NoticeItem).where(NoticeItem.notice_id == notice.id)
    if group_name:
        stmt = stmt.where(NoticeItem.group_name == group_name)
    return list(db.session.scalars(stmt.order_by(NoticeItem.position, NoticeItem.id)))


def item_of(notice: Notice, item_id: int) -> NoticeItem | None:
    """An item of this notice (None when the id belongs to another notice)."""
    item = db.session.get(NoticeItem, item_id)
    return item if item is not None and item.notice_id == notice.id else None


def snapshot_of(notice: Notice) -> dict:
    """What the sheet prints: the frozen snapshot once the notice is open (a posted sheet never changes), else the
    current draft built the same way."""
    if notice.snapshot and notice.status not in ("draft", "scheduled"):
        return notice.snapshot
    return build_snapshot(notice)


# ---------------------------------------------------------------- who is listed (N-4, N-5, §4.2)

def _consented(household_ids: list[int]) -> set[int]:
    """Households whose latest unrevoked notice consent (公示同意) is a signature or signed paper, not a refusal."""
    if not household_ids:
        return set()
    latest: dict[int, str] = {}
    for hid, method in db.session.execute(
            sa.select(Consent.household_id, Consent.method)
            .where(Consent.kind == NOTICE_CONSENT, Consent.revoked_at.is_(None),
                   Consent.household_id.in_(household_ids))
            .order_by(Consent.signed_at, Consent.id)):
        latest[hid] = method
    return {hid for hid, method in latest.items() if method != "refused"}


def _on_pending_notice() -> sa.Select:
    """Rating ids already on a draft or scheduled notice (they are not listed twice)."""
    return (sa.select(NoticeItem.rating_id).join(Notice, Notice.id == NoticeItem.notice_id)
            .where(Notice.status.in_(("draft", "scheduled"))))


def eligible_ratings(village: Village) -> list[Rating]:
    """Approved live ratings of the village with a listed grade, of active households that consented to the
    notice, not already on another draft or scheduled notice."""
    grade = sa.func.coalesce(Rating.approved_grade, Rating.grade)
    rows = list(db.session.scalars(
        sa.select(Rating).join(Household, Household.id == Rating.household_id)
        .where(Rating.village_id == village.id, Rating.status == "approved", Rating.live_household_id.is_not(None),
               grade != "not_rated", Household.status == "active", Rating.id.not_in(_on_pending_notice()))
        .order_by(Rating.id)))
    consented = _consented([r.household_id for r in rows])
    return [r for r in rows if r.household_id in consented]


def private_ratings(village: Village) -> list[Rating]:
    """Live ratings of the village that ended not rated (vetoed, below 60, or set so by the approver) and have no
    private notice yet on a notice that was not cancelled: they get a private letter instead of a line (N-5)."""
    noticed = (sa.select(PrivateNotice.rating_id).join(Notice, Notice.id == PrivateNotice.notice_id)
               .where(Notice.status != "cancelled"))
    return list(db.session.scalars(
        sa.select(Rating).join(Household, Household.id == Rating.household_id)
        .where(Rating.village_id == village.id, Rating.status == "not_rated", Rating.live_household_id.is_not(None),
               Household.status == "active", Rating.id.not_in(noticed))
        .order_by(Rating.id)))


def _program(rating: Rating) -> str:
    return ((rating.breakdown or {}).get("line_parts") or {}).get("product") or "standard"


def _households(ids: list[int]) -> dict[int, tuple[Household, str]]:
    """Household and its group name, by id (two statements for any number)."""
    if not ids:
        return {}
    households = {h.id: h for h in db.session.scalars(sa.select(Household).where(Household.id.in_(ids)))}
    group_ids = {h.group_id for h in households.values() if h.group_id}
    names = dict(db.session.execute(sa.select(VillageGroup.id, VillageGroup.name)
                                    .where(VillageGroup.id.in_(group_ids))).all()) if group_ids else {}
    return {hid: (h, names.get(h.group_id, "")) for hid, h in households.items()}


def _item(notice: Notice, rating: Rating, household: Household, group_name: str, position: int, **extra) -> NoticeItem:
    return NoticeItem(notice_id=notice.id, rating_id=rating.id, household_id=household.id,
                      county_id=household.county_id, village_id=household.village_id, group_id=household.group_id,
                      position=position, display_name=mask_name(household.head_name), group_name=group_name,
                      grade=rating.effective_grade, line_fen=int(rating.effective_line_fen), program=_program(rating),
                      **extra)


def _private(notice: Notice, rating: Rating, household: Household) -> PrivateNotice:
    return PrivateNotice(notice_id=notice.id, rating_id=rating.id, household_id=household.id,
                         county_id=household.county_id, village_id=household.village_id, group_id=household.group_id,
                         reasons=rules.private_reasons(rating.vetoes, rating.final_score, rating.effective_grade))


def _check_duration(days: int) -> None:
    s = settings()
    if not rules.duration_ok(days, s.min_days, s.max_days):
        raise Refused(_("A notice lasts from %(low)d to %(high)d days.", low=s.min_days, high=s.max_days),
                      code="duration")


def create_notice(village: Village, *, user, starts_on: date, duration_days: int, posting_place: str,
                  hotline: str, title: str | None = None) -> Notice:
    """A draft notice of the village: one item per eligible rating (masked name, group, grade, line, program), and a
    private notice for every household not rated. Refused when nobody can be listed."""
    _check_duration(duration_days)
    if starts_on < clock.today():
        raise Refused(_("The notice cannot start in the past."), code="start")
    eligible = eligible_ratings(village)
    if not eligible:
        raise Refused(_("No household can be listed: the notice needs approved ratings of households that "
                        "consented to the public notice."), code="empty")
    private = private_ratings(village)
    notice = Notice(county_id=village.county_id, village_id=village.id, kind="rating", round=1, supplement=False,
                    title=(title or "").strip() or rules.default_title(village.name),
                    starts_on=starts_on, ends_on=rules.window(starts_on, duration_days), duration_days=duration_days,
                    posting_place=(posting_place or "").strip(), hotline=(hotline or "").strip() or settings().hotline,
                    status="draft", public_token=secrets.token_urlsafe(16), created_by=user.id,
                    created_at=utcnow_naive())
    db.session.add(notice)
    db.session.flush()
    people = _households([r.household_id for r in eligible + private])
    listed = sorted(eligible, key=lambda r: (people[r.household_id][1], people[r.household_id][0].code))
    db.session.add_all([_item(notice, r, people[r.household_id][0], people[r.household_id][1], pos)
                        for pos, r in enumerate(listed, start=1)])
    db.session.add_all([_private(notice, r, people[r.household_id][0]) for r in private])
    db.session.flush()
    db.session.refresh(notice)
    return notice


def schedule(notice: Notice) -> None:
    _transition(notice, "schedule")


def cancel(notice: Notice, reason: str) -> None:
    """Cancel a notice not yet posted; once open, corrections are supplementary notices."""
    if not (reason or "").strip():
        raise Refused(_("Say why the notice is cancelled."), code="no_reason")
    _transition(notice, "cancel")
    notice.cancelled_at = utcnow_naive()
    notice.cancel_reason = reason.strip()[:200]


# ---------------------------------------------------------------- the snapshot

def _header(notice: Notice) -> dict:
    village = db.session.get(Village, notice.village_id)
    township = db.session.get(Township, village.township_id)
    county = db.session.get(County, notice.county_id)
    return {"title": notice.title, "village": village.name, "township": township.name if township else "",
            "county": county.name if county else "", "bank": settings().bank, "branch": branch_name(village),
            "kind": notice.kind, "round": notice.round, "supplement": bool(notice.supplement),
            "starts_on": notice.starts_on.isoformat() if notice.starts_on else None,
            "ends_on": notice.ends_on.isoformat() if notice.ends_on else None,
            "duration_days": notice.duration_days, "posting_place": notice.posting_place,
            "hotline": notice.hotline, "public_url": public_url(notice),
            "second_language": (county.second_language or None) if county else None}


def build_snapshot(notice: Notice) -> dict:
    """Header fields and every item's public fields (N-4): what is posted, as plain JSON."""
    items = []
    for item in items_of(notice):
        items.append(rules.snapshot_item({
            "item_id": item.id, "position": item.position, "display_name": item.display_name,
            "group_name": item.group_name, "grade": item.grade, "line_fen": int(item.line_fen),
            "program": item.program, "amended": bool(item.amended), "amendment_note": item.amendment_note}))
    return {"version": 1, "notice": _header(notice), "items": items}


def branch_name(village: Village) -> str:
    """The branch whose grid covers the village (the first by code), for the sheet's header."""
    name = db.session.scalar(
        sa.select(Branch.name).join(Grid, Grid.branch_id == Branch.id).join(GridArea, GridArea.grid_id == Grid.id)
        .where(GridArea.village_id == village.id).order_by(Grid.level, Grid.code).limit(1))
    return name or ""


# ---------------------------------------------------------------- opening (N-3)

def open_notice(notice: Notice, *, user, photo: bytes | None, lat: float | None, lng: float | None,
                accuracy_m: float | None) -> None:
    """Open a scheduled notice: the posting photo (through the photo pipeline) with GPS (the photo's EXIF, else the
    phone's fix) inside NOTICE_POSTING_RADIUS_M of the village centroid; freezes the snapshot and its hash; every
    listed rating goes on notice. Opened after its start date, the window moves to start today."""
    if notice.status != "scheduled":
        _transition(notice, "open")  # raises with the status
    today = clock.today()
    if notice.starts_on is not None and notice.starts_on > today:
        raise Refused(_("This notice starts on %(day)s: post it and open it that day.",
                        day=notice.starts_on.isoformat()), code="early")
    if not photo:
        raise Refused(_("Take a photo of the notice on the village board: it opens only with that photo."),
                      code="no_photo")
    village = db.session.get(Village, notice.village_id)
    if village.centroid_lat is None or village.centroid_lng is None:
        raise Refused(_("This village has no location on record, so the posting cannot be checked. Ask head office "
                        "to set the village's centre point first."), code="no_centroid")
    try:
        processed = pipeline.process(photo)
    except pipeline.PhotoError as exc:
        from ..visits.services import PHOTO_ERRORS
        raise Refused(str(PHOTO_ERRORS.get(exc.code, PHOTO_ERRORS["unreadable"])), code="photo") from exc
    if processed.gps_lat is not None and processed.gps_lng is not None:
        lat, lng, accuracy_m = processed.gps_lat, processed.gps_lng, None
    if lat is None or lng is None:
        raise Refused(_("The photo has no location. Allow the phone to use its location and take it again."),
                      code="no_gps")
    s = settings()
    distance = rules.distance_m(lat, lng, village.centroid_lat, village.centroid_lng)
    if not rules.posting_ok(distance, s.radius_m):
        raise Refused(_("The photo was taken %(distance)d m from the village centre; it must be within %(radius)d m. "
                        "Post the notice on the village board and take the photo there.",
                        distance=round(distance), radius=round(s.radius_m)), code="too_far")
    items = items_of(notice)
    if not items:
        raise Refused(_("This notice lists nobody."), code="empty")
    wanted = "re_notice" if notice.supplement else "approved"
    ratings_by_id = {r.id: r for r in db.session.scalars(
        sa.select(Rating).where(Rating.id.in_([i.rating_id for i in items])))}
    changed = [i for i in items if ratings_by_id[i.rating_id].status != wanted]
    if changed:
        raise Refused(_("%(count)d of the listed ratings changed since this notice was drafted. Cancel it and "
                        "draft a new one.", count=len(changed)), code="stale_items")
    notice.posting_photo_sha = store.put_photo(processed.data, False)
    notice.posting_thumb_sha = store.put_photo(processed.thumb, False)
    notice.posting_lat, notice.posting_lng = lat, lng
    notice.posting_accuracy_m = accuracy_m
    notice.posting_distance_m = round(distance, 1)
    notice.posted_by = user.id
    if notice.starts_on is None or notice.starts_on < today:
        notice.starts_on = today
    notice.ends_on = rules.window(notice.starts_on, notice.duration_days)
    _transition(notice, "open")
    notice.opened_at = utcnow_naive()
    if not notice.supplement:
        for item in items:
            ratings.transition(ratings_by_id[item.rating_id], "notice")
    db.session.flush()
    notice.snapshot = build_snapshot(notice)
    notice.content_hash = rules.content_hash(notice.snapshot)
    audit.record("notice.opened", "Notice", notice.id, reason=notice.content_hash,
                 changes={"items": len(items), "distance_m": notice.posting_distance_m,
                          "starts_on": notice.starts_on.isoformat(), "ends_on": notice.ends_on.isoformat()})
    db.session.flush()


# ---------------------------------------------------------------- objections that block (N-7, N-8)

def open_objections(item: NoticeItem) -> list[Objection]:
    """Objections on the item still being handled and received within the window (complaints never block)."""
    return list(db.session.scalars(sa.select(Objection).where(
        Objection.item_id == item.id, Objection.status.in_(rules.OPEN_OBJECTION_STATUSES),
        Objection.within_window.is_(True)).order_by(Objection.id)))


def _pending_reratings(item: NoticeItem) -> list[Objection]:
    """Upheld (or partly upheld) objections whose re-rating still waits for a second person's approval."""
    return list(db.session.scalars(
        sa.select(Objection).join(Rating, Rating.id == Objection.rerating_id)
        .where(Objection.item_id == item.id, Objection.within_window.is_(True),
               Objection.decision.in_(("upheld", "partly")), Rating.status == "reviewed")))


def blocking_objections(item: NoticeItem) -> list[Objection]:
    """Everything that keeps the item from becoming final: open objections and re-ratings not yet approved."""
    return open_objections(item) + _pending_reratings(item)


# ---------------------------------------------------------------- closing and finalising (W4 "closed → finalised")

def refresh(notice: Notice, today: date | None = None) -> bool:
    """Bring the notice up to date with the calendar (idempotent; on read and by `flask jobs tick`).

    After the end of its last day an open notice closes; then each pending item whose household has nothing
    blocking becomes final (its rating too), a withdrawn rating makes its item withdrawn, and once no item is
    pending the notice is finalised. Nothing happens before the end of the window. Returns whether anything changed.
    """
    today = today or clock.today()
    changed = False
    if notice.status == "open" and rules.is_over(notice.ends_on, today):
        _transition(notice, "close")
        notice.closed_at = utcnow_naive()
        changed = True
    if notice.status != "closed":
        return changed
    items = items_of(notice)
    pending = [i for i in items if i.status in rules.PENDING_ITEM_STATUSES]
    ratings_by_id = {r.id: r for r in db.session.scalars(
        sa.select(Rating).where(Rating.id.in_([i.rating_id for i in pending])))} if pending else {}
    now = utcnow_naive()
    for item in pending:
        rating = ratings_by_id[item.rating_id]
        outcome = rules.item_outcome(item.status, rating.status, bool(blocking_objections(item)))
        if outcome == "final":
            ratings.transition(rating, "finalise")
            item.status = "final"
            item.final_at = now
            changed = True
        elif outcome == "withdrawn":
            item.status = "withdrawn"
            changed = True
    if rules.notice_settled(i.status for i in items):
        _transition(notice, "finalise")
        notice.finalised_at = now
        changed = True
    if changed:
        db.session.flush()
    return changed


@jobs.tick_task("notices.close")
def close_due() -> int:
    """Close notices whose window ended and finalise what can be; returns how many notices changed."""
    today = clock.today()
    count = 0
    for notice in db.session.scalars(sa.select(Notice).where(Notice.status.in_(CLOSABLE)).order_by(Notice.id)):
        if refresh(notice, today):
            count += 1
    return count


# ---------------------------------------------------------------- supplementary notices (N-10)

def create_supplement(parent: Notice, changes: list[tuple[NoticeItem, Rating]], *, user) -> Notice | None:
    """A supplementary notice (补充公示) of the same village for re-rated households: duration RENOTICE_DAYS, items
    amended with the new grade and line and a note of what was posted before; a draft that opens with its own
    posting photo. Each parent item becomes "changed". A draft supplement of the same parent collects later changes.

    A re-rating that ended not rated is not re-listed: its household gets a private notice on the parent instead
    (N-5). Returns the supplement, or None when no change is re-listed.
    """
    if parent.status not in CLOSABLE:
        raise Refused(_("Only an open or closed notice can get a supplementary notice."), code="transition")
    s = settings()
    today = clock.today()
    supplement = db.session.scalar(sa.select(Notice).where(Notice.parent_id == parent.id, Notice.supplement.is_(True),
                                                           Notice.status == "draft").order_by(Notice.id).limit(1))
    relisted = [(item, rating) for item, rating in changes if rules.is_listed_grade(rating.effective_grade)]
    for item, rating in changes:
        if item.notice_id != parent.id:
            raise Refused(_("This household is not on that notice."), code="wrong_notice")
        if rating.household_id != item.household_id:
            raise Refused(_("The new rating is of another household."), code="wrong_household")
    if relisted and supplement is None:
        village = db.session.get(Village, parent.village_id)
        supplement = Notice(county_id=parent.county_id, village_id=parent.village_id, kind=parent.kind,
                            round=parent.round, parent_id=parent.id, supplement=True,
                            title=rules.default_title(village.name, supplement=True), starts_on=today,
                            ends_on=rules.window(today, s.renotice_days), duration_days=s.renotice_days,
                            posting_place=parent.posting_place, hotline=parent.hotline, status="draft",
                            public_token=secrets.token_urlsafe(16), created_by=user.id, created_at=utcnow_naive())
        db.session.add(supplement)
        db.session.flush()
    people = _households([item.household_id for item, _rating in changes])
    existing = {i.household_id: i for i in items_of(supplement)} if supplement is not None else {}
    position = max((i.position for i in existing.values()), default=0)
    for item, rating in changes:
        household, group_name = people[item.household_id]
        item.status = "changed"
        if not rules.is_listed_grade(rating.effective_grade):
            already = db.session.scalar(sa.select(PrivateNotice).where(
                PrivateNotice.notice_id == parent.id, PrivateNotice.household_id == household.id))
            if already is None:
                db.session.add(_private(parent, rating, household))
            continue
        note = rules.amendment_note(item.grade, item.line_fen, rating.effective_grade, rating.effective_line_fen)
        row = existing.get(household.id)
        if row is None:
            position += 1
            row = _item(supplement, rating, household, group_name or item.group_name, position, amended=True,
                        amendment_note=note)
            row.display_name = item.display_name
            db.session.add(row)
            existing[household.id] = row
        else:
            row.rating_id, row.grade, row.line_fen = rating.id, rating.effective_grade, int(rating.effective_line_fen)
            row.program, row.amendment_note = _program(rating), note
    db.session.flush()
    return supplement


# ---------------------------------------------------------------- private notices

def record_delivery(private: PrivateNotice, *, user, note: str | None) -> None:
    """The letter was handed to the household (by the secretary or the officer), with a note."""
    private.delivered_at = utcnow_naive()
    private.delivered_by = user.id
    private.delivery_note = (note or "").strip()[:200] or None


# ---------------------------------------------------------------- the printed sheet

def sheet_context(notice: Notice) -> dict:
    """Everything the printed sheet shows: the frozen snapshot (or the draft's), grouped words, the QR target."""
    snap = snapshot_of(notice)
    header = snap["notice"]
    return {"snapshot": snap, "header": header, "items": snap["items"],
            "second": rules.second_language(header.get("second_language")), "url": header["public_url"],
            "frozen": bool(notice.snapshot) and notice.status not in ("draft", "scheduled")}
