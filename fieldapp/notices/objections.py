"""Objection (异议) use cases: filing (public form, paper, oral), the status lookup, and the workflow
received -> investigating -> decided -> replied (+ withdrawn) of W4 (N-6..N-11).

An upheld objection that changes the grade or line proposes a re-rating that a second person approves (SD-1); until
then the item stays blocked (N-8: services.blocking_objections counts the pending re-rating), and on approval the
household goes on a short supplementary notice (N-10) and its first listing becomes "changed".
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date, datetime, time

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..core import audit, clock
from ..extensions import db
from ..households.models import Household
from ..org.models import Assignment, Grid, GridArea
from ..ratings import services as ratings
from ..ratings.models import Rating, ReviewMeeting
from . import rules, services
from .models import Notice, NoticeItem, Objection

Refused = ratings.Refused

GROUNDS = ("hidden_debt", "bad_habits", "false_income", "favouritism", "self_dispute", "other")
GROUNDS_LABELS = {
    "hidden_debt": _l("Hidden debts (隐瞒负债)"),
    "bad_habits": _l("Bad habits (不良习气)"),
    "false_income": _l("Income not true (收入不实)"),
    "favouritism": _l("Favouritism or clan pressure (优亲厚友·家族势力)"),
    "self_dispute": _l("I dispute my own rating (本人不服)"),
    "other": _l("Other (其他)"),
}
RELATIONS = ("neighbour", "relative", "self", "other")
RELATION_LABELS = {"neighbour": _l("Neighbour"), "relative": _l("Relative"), "self": _l("The household itself"),
                   "other": _l("Other villager")}
VIA_LABELS = {"web": _l("Public page"), "paper": _l("On paper"), "oral": _l("Told in person"),
              "phone": _l("By phone"), "officer": _l("Through the grid officer")}
STAFF_VIA = ("paper", "oral", "phone", "officer")
STATUS_LABELS = {
    "received": _l("Received: waiting for investigation"),
    "investigating": _l("Being investigated"),
    "decided": _l("Decided"),
    "replied": _l("Decided and answered"),
    "withdrawn": _l("Withdrawn"),
}
PUBLIC_STATUS_LABELS = {
    "received": _l("Received"), "investigating": _l("Being investigated"), "decided": _l("Decided"),
    "replied": _l("Decided; the written reply has been handed over"), "withdrawn": _l("Withdrawn"),
}
PUBLIC_DECISION_LINES = {
    "upheld": _l("The objection was upheld."),
    "partly": _l("The objection was partly upheld."),
    "rejected": _l("The objection was not upheld."),
}
DECISION_LABELS = {"upheld": _l("Upheld"), "partly": _l("Partly upheld"), "rejected": _l("Rejected")}
CHANNEL_LABELS = {"in_person": _l("Handed over in person"), "post": _l("By post"),
                  "secretary": _l("Through the village secretary"), "phone": _l("Read out by phone")}
OPEN_STATUSES = ("received", "investigating")
PUBLIC_NOTICE_STATUSES = ("open", "closed", "finalised")
RECEIPT_ATTEMPTS = 8


# ---------------------------------------------------------------- filing

def phone_hash(phone: str) -> str:
    """A keyed hash of the normalised mobile number: the lookup compares it, the clear number is never searched."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"objection-phone:" + phone.encode(), hashlib.sha256).hexdigest()


def normalise_receipt(raw: str | None) -> str | None:
    """What people type (spaces, dashes, lower case, O for 0) as stored; None when it is no receipt number."""
    return rules.normalise_receipt(raw)


def _new_receipt() -> str:
    for _attempt in range(RECEIPT_ATTEMPTS):
        receipt = services.new_receipt()
        if db.session.scalar(sa.select(Objection.id).where(Objection.receipt_no == receipt)) is None:
            return receipt
    raise RuntimeError("no free receipt number")  # 32^6 numbers: never in practice


def objectable_items(notice: Notice) -> list[NoticeItem]:
    """The items one may object to: everything listed on the notice except items replaced or withdrawn."""
    return [item for item in notice.items if item.status not in ("changed", "withdrawn")]


def _local_moment(received_on: date | None) -> datetime:
    """When the objection arrived, on the villages' calendar: now, or midday of the day written on the paper."""
    now = clock.now().astimezone(clock.LOCAL_TZ)
    if received_on is None or received_on == now.date():
        return now
    return datetime.combine(received_on, time(12, 0), tzinfo=clock.LOCAL_TZ)


def _utc_naive(moment: datetime) -> datetime:
    return (moment - moment.utcoffset()).replace(tzinfo=None)


def file_objection(notice: Notice, item: NoticeItem, *, name: str | None, phone: str | None, relation: str,
                   grounds: str, text: str, via: str = "web", user=None,
                   received_on: date | None = None) -> Objection:
    """Record an objection (N-6). After the window it is a complaint (N-7): recorded, investigated, never blocking."""
    if notice.status not in PUBLIC_NOTICE_STATUSES or item.notice_id != notice.id:
        raise Refused(_("This notice does not take objections."), code="not_open")
    if grounds not in GROUNDS:
        raise Refused(_("Choose what the objection is about."), code="grounds")
    if not (text or "").strip():
        raise Refused(_("Say what you know: the objection needs a text."), code="text")
    moment = _local_moment(received_on)
    within = notice.status == "open" and rules.within_window(moment, notice.starts_on, notice.ends_on)
    objection = Objection(
        county_id=notice.county_id, village_id=notice.village_id, group_id=item.group_id, notice_id=notice.id,
        item_id=item.id, household_id=item.household_id, receipt_no=_new_receipt(),
        objector_name=(name or "").strip() or None, objector_phone=phone or None,
        phone_hash=phone_hash(phone) if phone else None, relation=relation if relation in RELATIONS else "other",
        grounds=grounds, text=text.strip()[:1000], received_via=via, received_at=clock.utcnow_naive(),
        recorded_by=user.id if user is not None else None, within_window=within, status="received")
    if received_on is not None and received_on != clock.today():
        objection.received_at = _utc_naive(moment)
    db.session.add(objection)
    if within and item.status == "listed":
        item.status = "objected"
    db.session.flush()
    return objection


# ---------------------------------------------------------------- public status lookup

@dataclass(frozen=True)
class Lookup:
    """What the public lookup may show: status words; the decision line; the written reason (real-name only)."""

    objection: Objection
    show_decision: bool
    show_reason: bool


def lookup(receipt: str, phone: str | None) -> Lookup | None:
    """By receipt number and the phone given at filing. A wrong phone and an unknown receipt are the same None.

    An objection filed without a phone is found by its receipt alone (and only when no phone is typed), and then
    shows only its status words.
    """
    receipt = normalise_receipt(receipt)
    if receipt is None:
        return None
    objection = db.session.scalar(sa.select(Objection).where(Objection.receipt_no == receipt))
    given = phone_hash(phone) if phone else None
    if objection is None:
        return None
    if objection.phone_hash is None:
        if given is not None:
            return None
        return Lookup(objection, show_decision=False, show_reason=False)
    if given is None or not hmac.compare_digest(objection.phone_hash, given):
        return None
    return Lookup(objection, show_decision=True, show_reason=objection.objector_name is not None)


# ---------------------------------------------------------------- staff workflow

def _check_version(objection: Objection, version: int | None) -> None:
    if version is not None and version != objection.version:
        raise Refused(_("Someone else changed this objection meanwhile. Check it again."), code="stale")


def _check_status(objection: Objection, *allowed: str) -> None:
    if objection.status not in allowed:
        raise Refused(_("This objection cannot take that step now."), code="transition")


def item_of(objection: Objection) -> NoticeItem | None:
    return db.session.get(NoticeItem, objection.item_id) if objection.item_id else None


def household_of(objection: Objection) -> Household | None:
    return db.session.get(Household, objection.household_id) if objection.household_id else None


def village_officers(objection: Objection) -> list:
    """Grid officers who cover the objection's village today (whole village or the household's group)."""
    from ..accounts.models import User
    today = clock.today()
    stmt = (sa.select(User).join(Assignment, Assignment.user_id == User.id)
            .join(Grid, Grid.id == Assignment.grid_id).join(GridArea, GridArea.grid_id == Grid.id)
            .where(GridArea.village_id == objection.village_id, Grid.status == "active", User.active,
                   sa.or_(GridArea.group_id.is_(None), GridArea.group_id == objection.group_id),
                   Assignment.starts_on <= today,
                   sa.or_(Assignment.ends_on.is_(None), Assignment.ends_on >= today))
            .distinct().order_by(User.name))
    return list(db.session.scalars(stmt))


def default_officer_id(objection: Objection) -> int | None:
    """The owner of the grid covering the household's group (else the whole village): the one who investigates."""
    today = clock.today()
    stmt = (sa.select(Assignment.user_id, GridArea.group_id).join(Grid, Grid.id == Assignment.grid_id)
            .join(GridArea, GridArea.grid_id == Grid.id)
            .where(GridArea.village_id == objection.village_id, Grid.status == "active", Assignment.kind == "owner",
                   sa.or_(GridArea.group_id.is_(None), GridArea.group_id == objection.group_id),
                   Assignment.starts_on <= today,
                   sa.or_(Assignment.ends_on.is_(None), Assignment.ends_on >= today))
            .order_by(Assignment.id))
    rows = list(db.session.execute(stmt))
    for user_id, group_id in rows:
        if group_id is not None:
            return user_id
    return rows[0][0] if rows else None


def assign(objection: Objection, officer_id: int | None, *, version: int | None = None) -> None:
    """Assign the investigation to one of the village's grid officers."""
    _check_version(objection, version)
    _check_status(objection, *OPEN_STATUSES)
    if officer_id is None or officer_id not in {u.id for u in village_officers(objection)}:
        raise Refused(_("Choose a grid officer who covers this village."), code="officer")
    objection.assigned_to = officer_id


def recent_visits(objection: Objection, limit: int = 10) -> list:
    from ..visits.models import Visit
    if objection.household_id is None:
        return []
    return list(db.session.scalars(sa.select(Visit).where(Visit.household_id == objection.household_id)
                                   .order_by(Visit.started_at.desc(), Visit.id.desc()).limit(limit)))


def investigate(objection: Objection, *, user, visit_id: int | None, notes: str | None,
                version: int | None = None) -> None:
    """Start (or update) the investigation: link a visit of that household (N-9) and write notes."""
    _check_version(objection, version)
    _check_status(objection, *OPEN_STATUSES)
    if visit_id is not None and visit_id not in {v.id for v in recent_visits(objection, limit=50)}:
        raise Refused(_("Choose a visit of this household."), code="visit")
    if objection.assigned_to is None:
        objection.assigned_to = user.id
    objection.status = "investigating"
    if visit_id is not None:
        objection.visit_id = visit_id
    if notes:
        objection.investigation_notes = notes


def _release(item: NoticeItem | None, objection: Objection) -> None:
    """The item is no longer blocked by this objection: back to listed when no other one holds it (N-8)."""
    if item is None or item.status != "objected":
        return
    others = [o for o in services.open_objections(item) if o.id != objection.id]
    if not others:
        item.status = "listed"


def _flag_meeting(rating: Rating, objection: Objection) -> None:
    """N-11: an audit flag on the meeting that reviewed the household."""
    if rating.meeting_id is None:
        return
    meeting = db.session.get(ReviewMeeting, rating.meeting_id)
    if meeting is None:
        return
    meeting.flagged = True
    reason = f"异议 {objection.receipt_no}: 优亲厚友·家族势力 (N-11)"
    if meeting.flag_reason and objection.receipt_no not in meeting.flag_reason:
        reason = f"{meeting.flag_reason}; {reason}"
    meeting.flag_reason = reason[:300]


def decide(objection: Objection, *, user, decision: str, reason: str, change: bool = False,
           favouritism: bool = False, version: int | None = None) -> Rating | None:
    """Decide with a written reason (N-6). Upheld or partly with a change proposes a re-rating of the household's
    current accepted file (N-10; with the committee set aside on favouritism, N-11) and waits for its approval;
    otherwise the objection is decided and its item released. Returns the proposed re-rating, if any."""
    _check_version(objection, version)
    _check_status(objection, *OPEN_STATUSES)
    if decision not in DECISION_LABELS:
        raise Refused(_("Choose the decision."), code="decision")
    reason = (reason or "").strip()
    if not reason:
        raise Refused(_("Every decision needs a written reason."), code="no_reason")
    if change and decision == "rejected":
        raise Refused(_("A rejected objection changes nothing: untick the re-rating."), code="change")
    item = item_of(objection)
    old = db.session.get(Rating, item.rating_id) if item is not None else None
    objection.decision = decision
    objection.decision_reason = reason
    objection.favouritism = bool(favouritism)
    objection.decided_by = user.id
    objection.decided_at = clock.utcnow_naive()
    if objection.assigned_to is None:
        objection.assigned_to = user.id
    if favouritism and old is not None:
        _flag_meeting(old, objection)
    if change:
        if old is None:
            raise Refused(_("This objection names no rating to change."), code="no_rating")
        if old.superseded_by_id is not None:
            old = db.session.get(Rating, old.superseded_by_id) or old
        rerating = ratings.propose_rerating(old, user_id=user.id, set_aside_committee=bool(favouritism))
        objection.rerating_id = rerating.id
        objection.status = "decided"  # the item stays blocked until the re-rating is approved (N-8)
        return rerating
    objection.status = "decided"
    _release(item, objection)
    return None


def pending_rerating(objection: Objection) -> Rating | None:
    if objection.rerating_id is None or objection.status != "decided":
        return None
    rating = db.session.get(Rating, objection.rerating_id)
    return rating if rating is not None and rating.status == "reviewed" else None


def approval_problem(objection: Objection, user) -> str | None:
    rating = pending_rerating(objection)
    if rating is None:
        return _("No re-rating waits for approval.")
    return ratings.approval_problem(rating, user)


def approve(objection: Objection, *, user, comment: str | None = None, version: int | None = None):
    """The branch manager (not the proposer, SD-1) approves the re-rating: the new rating replaces the one on notice
    and the household goes on a supplementary notice with the amended item (N-10). Returns the supplement (None when
    the re-rating ended in not_rated: no notice for it, N-5)."""
    _check_version(objection, version)
    rating = pending_rerating(objection)
    if rating is None:
        raise Refused(_("No re-rating waits for approval."), code="transition")
    ratings.approve_rerating(rating, user, comment=comment)
    item = item_of(objection)
    notice = db.session.get(Notice, item.notice_id) if item is not None else None
    supplement = None
    if item is not None and notice is not None:
        # re-listed on a supplement; a re-rating that ended not rated gets a private notice instead (N-5)
        supplement = services.create_supplement(notice, [(item, rating)], user=user)
        item.status = "changed"
    if notice is not None:
        services.refresh(notice)  # a closed notice whose last blocked item this was is now finalised
    audit.record("transition", "Objection", objection.id, reason="rerating_approved",
                 changes={"rerating": rating.id, "supplement": supplement.id if supplement else None})
    return supplement


def withdraw(objection: Objection, *, user, note: str, version: int | None = None) -> None:
    """The objector asked to withdraw (recorded by staff): the item is released."""
    _check_version(objection, version)
    _check_status(objection, *OPEN_STATUSES)
    if not (note or "").strip():
        raise Refused(_("Say how the objector asked to withdraw."), code="no_reason")
    if pending_rerating(objection) is not None:
        raise Refused(_("A re-rating for this objection waits for approval; it can no longer be withdrawn."),
                      code="transition")
    objection.status = "withdrawn"
    objection.withdrawn_at = clock.utcnow_naive()
    note = note.strip()[:500]
    objection.investigation_notes = ((objection.investigation_notes + "\n") if objection.investigation_notes
                                     else "") + _("Withdrawn: %(note)s", note=note)
    audit.record("transition", "Objection", objection.id, reason=note, changes={"status": "withdrawn"})
    _release(item_of(objection), objection)


def gets_reply(objection: Objection) -> bool:
    """N-6: only real-name objectors receive a written reply."""
    return objection.objector_name is not None


def record_reply(objection: Objection, *, channel: str, replied_on: date, version: int | None = None) -> None:
    _check_version(objection, version)
    if not gets_reply(objection):
        raise Refused(_("Anonymous objectors get no reply letter."), code="anonymous")
    _check_status(objection, "decided")
    if pending_rerating(objection) is not None:
        raise Refused(_("The re-rating waits for approval: reply once it is approved."), code="pending")
    if channel not in CHANNEL_LABELS:
        raise Refused(_("Choose how the reply was handed over."), code="channel")
    objection.status = "replied"
    objection.reply_channel = channel
    objection.replied_at = _utc_naive(datetime.combine(replied_on, time(12, 0), tzinfo=clock.LOCAL_TZ))


def mark_printed(objection: Objection) -> None:
    objection.reply_printed_at = clock.utcnow_naive()
    audit.record("print", "Objection", objection.id, reason="reply_letter")
