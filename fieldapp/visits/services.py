"""Visit use cases: record a visit (and what it does to the household's file), take consents, store photos.

Every function works inside the request's transaction and never commits: create routes commit through
@idempotent. Households come in already scoped (access.get_or_404); sub-records (visits, photos) are reached only
through a scoped household.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer

from ..core import access, clock
from ..extensions import db
from ..households.models import Household, Member
from ..org.models import Village
from . import pipeline, rules, store
from .models import CONSENT_KINDS, PHOTO_KINDS, Consent, Photo, Visit

PURPOSE_LABELS = {
    "first": _l("First visit (set up the file)"),
    "follow_up": _l("Follow-up visit"),
    "update": _l("Return visit (update the file)"),
    "pre_loan": _l("Pre-loan survey"),
    "post_loan": _l("Post-loan check"),
    "reminder": _l("Due-date reminder"),
    "collection": _l("Collection"),
    "outreach": _l("Outreach"),
    "dispute": _l("Dispute inquiry"),
}
OUTCOME_LABELS = {
    "done": _l("Completed"),
    "not_home": _l("Nobody at home"),
    "refused": _l("Refused the visit"),
    "unreachable": _l("Away, out of contact"),
}
CONSENT_LABELS = {
    "collect": _l("Collection of information"),
    "credit_query": _l("Authorisation to query the credit report"),
    "notice": _l("Consent to the public notice"),
    "contact": _l("Contact for reminders"),
}
METHOD_LABELS = {
    "signature": _l("Signed on screen"),
    "paper": _l("Photo of the signed paper"),
    "refused": _l("Refused to consent"),
}
PHOTO_KIND_LABELS = {
    "house": _l("House"),
    "livestock": _l("Livestock and pens"),
    "land": _l("Land"),
    "id_card": _l("ID document"),
    "group": _l("Group photo"),
    "signature": _l("Signature page"),
    "other": _l("Other"),
}
PHOTO_ERRORS = {
    "empty": _l("Choose a photo to upload."),
    "not_image": _l("This file is not a photo. Upload a JPEG, PNG, WebP or HEIC picture."),
    "too_many_pixels": _l("The picture is too large (too many pixels). Take the photo again at a normal size."),
    "unreadable": _l("This photo could not be read. It may be damaged: take it again."),
}
SENSITIVE_KINDS = frozenset({"id_card"})  # encrypted at rest, never in lists, every view audited
ID_PHOTO_ROLES = frozenset({"grid_officer", "branch_manager"})  # SD-6: the household's own file page only
UPLOAD_KINDS = tuple(k for k in PHOTO_KINDS if k != "signature")  # signature pages come in through the consent form
OPENED_AT_MAX_AGE = timedelta(days=7)
DONE = "done"


# ---------------------------------------------------------------- time helpers

def local_to_utc(value: datetime) -> datetime:
    """A naive local (Asia/Shanghai) time from a form, as naive UTC."""
    return value.replace(tzinfo=clock.LOCAL_TZ).astimezone(timezone.utc).replace(tzinfo=None)


def format_local(value: datetime | None) -> str:
    """A stored UTC time as the villages read it (Asia/Shanghai)."""
    if value is None:
        return ""
    from flask_babel import format_datetime
    return format_datetime(clock.to_local(value), "yyyy-MM-dd HH:mm")


def _local_naive(value: datetime) -> datetime:
    return clock.to_local(value).replace(tzinfo=None)


def _opened_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="visit-opened-at")


def sign_opened_at(moment: datetime | None = None) -> str:
    """A tamper-proof stamp of the server time when the visit form was opened (the visit's server start)."""
    moment = moment or clock.utcnow_naive()
    return _opened_serializer().dumps(int(moment.replace(tzinfo=timezone.utc).timestamp()))


def read_opened_at(token: str | None, now: datetime) -> datetime | None:
    """The server time inside a stamp; None when missing, forged, in the future or older than a week."""
    if not token or len(token) > 200:
        return None
    try:
        seconds = _opened_serializer().loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        return None
    try:
        moment = datetime.fromtimestamp(seconds, tz=timezone.utc).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):
        return None
    if moment > now + timedelta(minutes=1) or now - moment > OPENED_AT_MAX_AGE:
        return None
    return moment


# ---------------------------------------------------------------- visits

@dataclass
class VisitInput:
    """What the visit form carries, already parsed: times in naive UTC, GPS in WGS-84 degrees."""

    purpose: str
    outcome: str
    companions: str | None = None
    notes: str | None = None
    next_visit_on: date | None = None
    opened_at: datetime | None = None  # server time when the form was opened (signed stamp)
    device_started_at: datetime | None = None
    device_ended_at: datetime | None = None
    gps_lat: float | None = None
    gps_lng: float | None = None
    gps_accuracy_m: float | None = None
    offline_created: bool = False


def reference_points(household: Household) -> tuple[tuple[float, float] | None, tuple[float, float] | None]:
    """(home, village centroid) as (lat, lng) pairs, each None when unknown."""
    home = None
    if household.home_lat is not None and household.home_lng is not None:
        home = (household.home_lat, household.home_lng)
    village = db.session.get(Village, household.village_id)
    centroid = None
    if village is not None and village.centroid_lat is not None and village.centroid_lng is not None:
        centroid = (village.centroid_lat, village.centroid_lng)
    return home, centroid


def record_visit(household: Household, staff, data: VisitInput) -> Visit:
    """Save a visit and update the household: last visit, next visit, failed attempts, file status (W2, V-3)."""
    now = clock.utcnow_naive()
    started = data.opened_at or now
    home, centroid = reference_points(household)
    distance = None
    if data.gps_lat is not None and data.gps_lng is not None:
        distance = rules.distance_to_reference_m(data.gps_lat, data.gps_lng, home, centroid)
    flags = rules.visit_flags(started, data.device_started_at, data.gps_accuracy_m, distance)
    visit = Visit(household_id=household.id, county_id=household.county_id, village_id=household.village_id,
                  group_id=household.group_id, staff_id=staff.id, companions=data.companions or None,
                  purpose=data.purpose, outcome=data.outcome, started_at=started, ended_at=now,
                  device_started_at=data.device_started_at, device_ended_at=data.device_ended_at,
                  clock_skew_flag="clock_skew" in flags, gps_lat=data.gps_lat, gps_lng=data.gps_lng,
                  gps_accuracy_m=data.gps_accuracy_m, distance_m=None if distance is None else round(distance, 1),
                  off_site="off_site" in flags, notes=data.notes or None, next_visit_on=data.next_visit_on,
                  offline_created=data.offline_created, created_at=now)
    db.session.add(visit)
    db.session.flush()
    attempts = _attempts(household.id)  # read before touching the household: one UPDATE (one version) per visit
    _learn_home(household, visit, flags)
    _apply_to_household(household, visit, attempts)
    db.session.flush()
    return visit


def _learn_home(household: Household, visit: Visit, flags: set[str]) -> None:
    """A completed, precise, on-site visit gives an unknown home its location (so a geo: link can guide the next
    visit). [assumption] Only when the home has no location yet; it is never moved by a visit."""
    if (household.home_lat is None and household.home_lng is None and visit.outcome == DONE
            and visit.gps_lat is not None and visit.gps_lng is not None and visit.gps_accuracy_m is not None
            and not flags & {"low_accuracy", "off_site"}):
        household.home_lat, household.home_lng = visit.gps_lat, visit.gps_lng


def _attempts(household_id: int) -> list[tuple[datetime, str]]:
    """(local start time, outcome) of every visit to the household: the input of the V-3 rule."""
    rows = db.session.execute(sa.select(Visit.started_at, Visit.outcome).where(Visit.household_id == household_id))
    return [(_local_naive(started), outcome) for started, outcome in rows]


def _apply_to_household(household: Household, visit: Visit, attempts: list[tuple[datetime, str]]) -> None:
    today = clock.today()
    if household.last_visit_at is None or visit.started_at >= household.last_visit_at:
        # the latest attempt, whatever its outcome: the worklist shows 无人在家 as well as 完成
        household.last_visit_at = visit.started_at
        household.last_visit_outcome = visit.outcome
    if visit.next_visit_on is not None:
        household.next_visit_on = visit.next_visit_on
    elif visit.outcome == DONE and household.next_visit_on is not None and household.next_visit_on <= today:
        household.next_visit_on = None  # the visit that was due has been made
    failed = len(rules.failed_days(attempts))
    if household.failed_attempts != failed:
        household.failed_attempts = failed
    status = household.file_status
    if status == "new":
        status = rules.next_file_status(status, "visit_saved")
    if visit.outcome == DONE:
        if status == "pending_revisit":
            status = rules.next_file_status(status, "visit_done")
    elif status != "pending_revisit" and rules.revisit_state(attempts):
        status = rules.next_file_status(status, "unreachable")
    if status != household.file_status:
        household.file_status = status


def get_visit_or_404(visit_id: int) -> tuple[Visit, Household]:
    """A visit reached through its household, scoped to the current user (404 otherwise)."""
    stmt = (sa.select(Visit, Household).join(Household, Household.id == Visit.household_id)
            .where(Visit.id == visit_id))
    row = db.session.execute(access.scoped(stmt, Household)).first()
    if row is None:
        from flask import abort
        abort(404)
    return row[0], row[1]


def flags_of(visit: Visit) -> list[str]:
    """The review flags of a saved visit, in a fixed order."""
    flags = rules.visit_flags(visit.started_at, visit.device_started_at, visit.gps_accuracy_m, visit.distance_m)
    if visit.clock_skew_flag:
        flags.add("clock_skew")
    if visit.off_site:
        flags.add("off_site")
    return [f for f in rules.VISIT_FLAGS if f in flags]


def recent_visits(household: Household, limit: int = 10) -> list[Visit]:
    return list(db.session.scalars(sa.select(Visit).where(Visit.household_id == household.id)
                                   .order_by(Visit.started_at.desc(), Visit.id.desc()).limit(limit)))


def visit_of_household(household: Household, visit_id) -> Visit | None:
    """The visit `visit_id` if it belongs to `household` (form input: anything else is None)."""
    try:
        vid = int(str(visit_id or "").strip())
    except ValueError:
        return None
    if not 0 < vid < 2**31:
        return None
    return db.session.scalar(sa.select(Visit).where(Visit.id == vid, Visit.household_id == household.id))


def staff_name(user_id: int | None) -> str:
    from ..accounts.models import User
    user = db.session.get(User, user_id) if user_id else None
    return user.name if user is not None else ""


def geo_uri(lat: float | None, lng: float | None) -> str | None:
    """A geo: link (RFC 5870) that hands the point to the phone's map app."""
    if lat is None or lng is None:
        return None
    return f"geo:{lat:.6f},{lng:.6f}"


# ---------------------------------------------------------------- photos

def may_view_sensitive(user) -> bool:
    """ID-document photos: grid officers and branch managers only (SD-6), each view audited."""
    return bool(user.is_authenticated and user.has_role(*ID_PHOTO_ROLES))


def client_photo_meta(form) -> tuple[float | None, float | None, datetime | None]:
    """GPS and time the phone read from the original photo's EXIF before resizing it (resizing strips EXIF)."""
    def number(name, low, high):
        try:
            value = float((form.get(name) or "").strip())
        except ValueError:
            return None
        return value if low <= value <= high else None
    lat, lng = number("gps_lat", -90, 90), number("gps_lng", -180, 180)
    if lat is None or lng is None:
        lat = lng = None
    taken = None
    raw = (form.get("taken_at") or "").strip()[:19]
    if raw:
        try:
            taken = datetime.fromisoformat(raw)
        except ValueError:
            taken = None
    return lat, lng, taken


def save_photo(household: Household, user, raw: bytes, kind: str, visit: Visit | None = None,
               client_meta: tuple[float | None, float | None, datetime | None] = (None, None, None)) -> Photo:
    """Run the pipeline on an upload and store it (sealed if sensitive); raises pipeline.PhotoError.

    GPS and time come from the file's EXIF when it still has them, else from what the phone read before resizing.
    """
    processed = pipeline.process(raw)
    gps_lat, gps_lng, taken_at = processed.gps_lat, processed.gps_lng, processed.taken_at
    if gps_lat is None and client_meta[0] is not None:
        gps_lat, gps_lng = client_meta[0], client_meta[1]
    if taken_at is None:
        taken_at = client_meta[2]
    encrypted = kind in SENSITIVE_KINDS
    sha = store.put_photo(processed.data, encrypted)
    thumb_sha = store.put_photo(processed.thumb, encrypted)
    photo = Photo(household_id=household.id, visit_id=visit.id if visit is not None else None, kind=kind,
                  sha256=sha, thumb_sha256=thumb_sha, mime="image/jpeg", width=processed.width,
                  height=processed.height, size_bytes=len(processed.data), encrypted=encrypted,
                  gps_lat=gps_lat, gps_lng=gps_lng, taken_at=taken_at,
                  uploaded_by=user.id, created_at=clock.utcnow_naive())
    db.session.add(photo)
    db.session.flush()
    return photo


def get_photo_or_404(photo_id: int) -> tuple[Photo, Household]:
    """A photo reached through its household, scoped to the current user; deleted photos are gone (404)."""
    stmt = (sa.select(Photo, Household).join(Household, Household.id == Photo.household_id)
            .where(Photo.id == photo_id, Photo.deleted_at.is_(None)))
    row = db.session.execute(access.scoped(stmt, Household)).first()
    if row is None:
        from flask import abort
        abort(404)
    return row[0], row[1]


def thumb_size(photo: Photo) -> tuple[int, int]:
    """The thumbnail's width and height (the pipeline fits the long side to 320 px), for stable page layout."""
    w, h = photo.width or pipeline.THUMB_SIDE, photo.height or pipeline.THUMB_SIDE
    scale = min(1.0, pipeline.THUMB_SIDE / max(w, h))
    return max(1, round(w * scale)), max(1, round(h * scale))


def photo_bytes(photo: Photo, thumb: bool = False) -> bytes:
    """The viewable JPEG (raises store.PhotoMissing when the file is gone)."""
    sha = photo.thumb_sha256 if thumb and photo.thumb_sha256 else photo.sha256
    return store.get_photo(sha, photo.encrypted)


@dataclass
class PhotoList:
    photos: list[Photo] = field(default_factory=list)
    sensitive: list[Photo] = field(default_factory=list)  # ID documents: listed only where they may be viewed


def household_photos(household: Household, *, visit: Visit | None = None, include_sensitive: bool = False,
                     limit: int = 60) -> PhotoList:
    """Photos of a household (or of one visit), newest first. ID documents only with include_sensitive, which the
    household page passes for grid officers and branch managers; lists elsewhere never carry them."""
    stmt = (sa.select(Photo).where(Photo.household_id == household.id, Photo.deleted_at.is_(None))
            .order_by(Photo.created_at.desc(), Photo.id.desc()).limit(limit))
    if visit is not None:
        stmt = stmt.where(Photo.visit_id == visit.id)
    result = PhotoList()
    for photo in db.session.scalars(stmt):
        if photo.kind in SENSITIVE_KINDS:
            if include_sensitive:
                result.sensitive.append(photo)
        else:
            result.photos.append(photo)
    return result


# ---------------------------------------------------------------- consents (§2.16, §4.2)

@dataclass
class ConsentState:
    """The current consent of each kind (the latest row not revoked), for the page and for V-1 / rating."""

    current: dict[str, Consent | None]

    @property
    def given(self) -> set[str]:
        """Kinds consented by signature or signed paper."""
        return {k for k, c in self.current.items() if c is not None and c.method != "refused"}

    @property
    def refused(self) -> set[str]:
        """Kinds with a documented refusal."""
        return {k for k, c in self.current.items() if c is not None and c.method == "refused"}


def consent_state(household_id: int) -> ConsentState:
    """Latest consent per kind for a household the caller has already scoped."""
    rows = db.session.scalars(sa.select(Consent).where(Consent.household_id == household_id,
                                                      Consent.revoked_at.is_(None))
                              .order_by(Consent.signed_at, Consent.id))
    current: dict[str, Consent | None] = {k: None for k in CONSENT_KINDS}
    for row in rows:
        if row.kind in current:
            current[row.kind] = row  # ordered oldest first: the last one wins
    return ConsentState(current)


def record_consent(household: Household, user, *, kinds: list[str], method: str, signature: bytes | None,
                   refusal_note: str | None, member: Member | None, visit: Visit | None) -> list[Consent]:
    """One Consent row per kind; a signature (canvas PNG) or signed-paper photo is stored as a Photo of kind
    "signature". A refusal stores its note (it keeps the household out of rating). Raises pipeline.PhotoError."""
    photo = None
    if method in ("signature", "paper"):
        photo = save_photo(household, user, signature or b"", "signature", visit)
    now = clock.utcnow_naive()
    rows = []
    for kind in kinds:
        row = Consent(household_id=household.id, member_id=member.id if member is not None else None,
                      visit_id=visit.id if visit is not None else None, kind=kind, method=method,
                      photo_id=photo.id if photo is not None else None,
                      refusal_note=(refusal_note or None) if method == "refused" else None,
                      signed_at=now, recorded_by=user.id)
        db.session.add(row)
        rows.append(row)
    db.session.flush()
    return rows


def household_members(household: Household) -> list[Member]:
    return list(db.session.scalars(sa.select(Member).where(Member.household_id == household.id)
                                   .order_by(Member.position, Member.id)))
