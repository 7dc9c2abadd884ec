"""Visit records (走访记录), consents and photos: pages, uploads and the photo files themselves."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import abort, flash, make_response, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from ..core import access, audit, clock
from ..core.idempotency import idempotent
from ..core.web import redirect_to, render, wants_fragment
from ..extensions import db
from ..households.models import Household
from . import bp, rules, services, store
from .forms import ConsentForm, PhotoForm, VisitForm
from .pipeline import PhotoError

# Who may use visit records and photos (domain §1.1, SD-5): the bank's field and review roles. Village secretaries
# see visit status on their village summary but never visit records, coordinates or photos; auditors read only.
VISIT_READ = frozenset({"hq_admin", "branch_manager", "grid_officer", "auditor"})
VISIT_WRITE = frozenset({"hq_admin", "branch_manager", "grid_officer"})
PHOTO_MAX_AGE = 86400  # photos never change under an address; a day keeps revoked access from lingering long
SHOW_KINDS = ("house", "livestock", "land", "id_card", "group", "other")  # upload buttons on the visit page


@bp.app_context_processor
def _labels():
    return {"visit_labels": {"purpose": services.PURPOSE_LABELS, "outcome": services.OUTCOME_LABELS,
                             "consent": services.CONSENT_LABELS, "method": services.METHOD_LABELS,
                             "photo_kind": services.PHOTO_KIND_LABELS},
            "visit_flag_messages": rules.VISIT_FLAG_MESSAGES, "photo_thumb_size": services.thumb_size}


def _household(household_id: int) -> Household:
    return access.get_or_404(Household, household_id)


def _safe_next(target: str | None) -> str | None:
    if target and len(target) <= 500:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//") \
                and "\\" not in target:
            return target
    return None


def _see_other(target: str, message: str | None = None):
    """PRG to a path (not an endpoint): 303, or HX-Redirect for an htmx request (as core.web.redirect_to)."""
    if message:
        flash(message, "ok")
    if wants_fragment():
        response = make_response("", 200)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, 303)


# ---------------------------------------------------------------- visit record

def _visit_form_page(h: Household, form: VisitForm, status: int = 200, conflict: bool = False):
    home, centroid = services.reference_points(h)
    return render("visits/new.html", "visits/_form.html", status=status, form=form, household=h,
                  has_reference=home is not None or centroid is not None, conflict=conflict,
                  accuracy_warn_m=int(rules.LOW_ACCURACY_M))


@bp.get("/households/<int:household_id>/visits/new")
@access.policy(read=VISIT_WRITE)
def new(household_id: int):
    """The visit form: purpose, outcome, who came along, notes; the phone adds its clock and GPS."""
    h = _household(household_id)
    form = VisitForm()
    form.opened_at.data = services.sign_opened_at()
    form.purpose.data = "first" if h.file_status == "new" else "update"
    form.outcome.data = "done"
    return _visit_form_page(h, form)


def _visit_input(form: VisitForm) -> services.VisitInput:
    lat, lng, acc = form.gps()
    now = clock.utcnow_naive()
    start, end = form.device_started_at.data, form.device_ended_at.data
    return services.VisitInput(
        purpose=form.purpose.data, outcome=form.outcome.data, companions=form.companions.data or None,
        notes=form.notes.data or None, next_visit_on=form.next_visit_on.data,
        opened_at=services.read_opened_at(form.opened_at.data, now),
        device_started_at=services.local_to_utc(start) if start else None,
        device_ended_at=services.local_to_utc(end) if end else None,
        gps_lat=lat, gps_lng=lng, gps_accuracy_m=acc, offline_created=form.offline_created.data == "1")


@bp.post("/households/<int:household_id>/visits/new")
@access.policy(read=VISIT_WRITE, write=VISIT_WRITE)
@idempotent
def create(household_id: int):
    """Save a visit; the first one opens the file, three failed attempts on different days set it aside (V-3)."""
    h = _household(household_id)
    form = VisitForm()
    if form.validate_on_submit():
        data = _visit_input(form)
        for attempt in range(2):
            try:
                visit = services.record_visit(h, current_user, data)
            except StaleDataError:
                # Someone changed the household between our read and our write (PostgreSQL): read it again once.
                db.session.rollback()
                if attempt:
                    return _visit_form_page(_household(household_id), form, status=409, conflict=True)
                h = _household(household_id)
                continue
            return redirect_to("visits.show", _("Visit saved."), visit_id=visit.id)
    return _visit_form_page(h, form, status=422)


@bp.get("/visits/<int:visit_id>")
@access.policy(read=VISIT_READ)
def show(visit_id: int):
    """One visit: when, where (with review flags), who, outcome, notes, and its photos."""
    visit, h = services.get_visit_or_404(visit_id)
    photos = services.household_photos(h, visit=visit)
    return render("visits/show.html", None, visit=visit, household=h, flags=services.flags_of(visit),
                  staff_name=services.staff_name(visit.staff_id), photos=photos,
                  household_geo=services.geo_uri(h.home_lat, h.home_lng),
                  visit_geo=services.geo_uri(visit.gps_lat, visit.gps_lng),
                  upload_kinds=[k for k in SHOW_KINDS if k not in services.SENSITIVE_KINDS
                                or services.may_view_sensitive(current_user)])


# ---------------------------------------------------------------- consent

def _consent_form(h: Household) -> ConsentForm:
    form = ConsentForm()
    members = services.household_members(h)
    form.member_id.choices = [("", _("(not recorded)"))] + [(str(m.id), m.name) for m in members]
    visits = services.recent_visits(h, limit=10)
    form.visit_id.choices = [("", _("(no visit)"))] + [
        (str(v.id), f"{services.format_local(v.started_at)} {services.PURPOSE_LABELS[v.purpose]}") for v in visits]
    if request.method == "GET":
        form.kinds.data = list(services.CONSENT_LABELS)
        head = next((m for m in members if m.is_head), None)
        form.member_id.data = str(head.id) if head else ""
        wanted = request.args.get("visit_id", "")
        form.visit_id.data = wanted if wanted in {str(v.id) for v in visits} else (str(visits[0].id) if visits else "")
    return form


@bp.route("/households/<int:household_id>/consent", methods=["GET", "POST"])
@access.policy(read=VISIT_READ, write=VISIT_WRITE)
@idempotent
def consent(household_id: int):
    """The household's consents (§2.16, §4.2): signed on screen, a photo of the signed paper, or a refusal note."""
    h = _household(household_id)
    form = _consent_form(h)
    if request.method == "POST" and form.validate_on_submit():
        upload = form.signature.data
        raw = upload.read() if upload and hasattr(upload, "read") else b""
        if form.method.data in ("signature", "paper") and not raw:
            form.signature.errors.append(_("Sign on the screen, or take a photo of the signed paper."))
        else:
            member = next((m for m in services.household_members(h) if str(m.id) == form.member_id.data), None)
            visit = services.visit_of_household(h, form.visit_id.data)
            try:
                services.record_consent(h, current_user, kinds=list(dict.fromkeys(form.kinds.data)), method=form.method.data,
                                        signature=raw, refusal_note=form.refusal_note.data, member=member,
                                        visit=visit)
            except PhotoError as exc:
                form.signature.errors.append(str(services.PHOTO_ERRORS[exc.code]))
            else:
                message = _("Refusal recorded.") if form.method.data == "refused" else _("Consent recorded.")
                return redirect_to("visits.consent", message, household_id=h.id)
    status = 422 if request.method == "POST" else 200
    return render("visits/consent.html", "visits/_consent_form.html", status=status, form=form, household=h,
                  state=services.consent_state(h.id))


# ---------------------------------------------------------------- photos

@bp.post("/households/<int:household_id>/photos")
@access.policy(read=VISIT_WRITE, write=VISIT_WRITE)
@idempotent
def photo_upload(household_id: int):
    """Upload one photo (one idempotency key per photo): a thumbnail card for fetch/htmx, else back to the page."""
    h = _household(household_id)
    form = PhotoForm()
    if form.validate_on_submit():
        upload = form.photo.data
        raw = upload.read() if upload and hasattr(upload, "read") else b""
        visit = services.visit_of_household(h, form.visit_id.data)
        if form.kind.data in services.SENSITIVE_KINDS and not services.may_view_sensitive(current_user):
            form.kind.errors.append(_("Only grid officers and branch managers take ID document photos."))
        else:
            try:
                photo = services.save_photo(h, current_user, raw, form.kind.data, visit,
                                             client_meta=services.client_photo_meta(request.form))
            except PhotoError as exc:
                form.photo.errors.append(str(services.PHOTO_ERRORS[exc.code]))
            else:
                if wants_fragment():
                    return render("visits/_photo_card.html", "visits/_photo_card.html", status=201, photo=photo,
                                  household=h)
                target = _safe_next(form.next.data) or url_for("households.show", household_id=h.id)
                return _see_other(target, _("Photo saved."))
    return render("visits/photo_upload.html", "visits/_photo_form.html", status=422, form=form, household=h,
                  kind=form.kind.data if form.kind.data in services.PHOTO_KIND_LABELS else "other")


def _send_photo(photo_id: int, thumb: bool):
    photo, _h = services.get_photo_or_404(photo_id)
    sensitive = photo.kind in services.SENSITIVE_KINDS
    if sensitive:
        if not services.may_view_sensitive(current_user):
            abort(403)
        audit.record("view_sensitive", "photos", photo.id, reason="id_card_thumb" if thumb else "id_card")
        db.session.commit()
    try:
        data = services.photo_bytes(photo, thumb=thumb)
    except (store.PhotoMissing, ValueError):
        abort(404)
    response = make_response(data)
    response.mimetype = "image/jpeg"
    response.headers["Content-Disposition"] = "inline"
    if sensitive:
        response.headers["Cache-Control"] = "private, no-store"  # a shared phone keeps no copy of an ID card
        return response
    response.headers["Cache-Control"] = f"private, max-age={PHOTO_MAX_AGE}"
    response.set_etag(photo.thumb_sha256 if thumb and photo.thumb_sha256 else photo.sha256)
    return response.make_conditional(request)


@bp.get("/photos/<int:photo_id>")
@access.policy(read=VISIT_READ)
def photo(photo_id: int):
    """A stored photo, to users who may see its household (ID documents: officer and manager, audited)."""
    return _send_photo(photo_id, thumb=False)


@bp.get("/photos/<int:photo_id>/thumb")
@access.policy(read=VISIT_READ)
def photo_thumb(photo_id: int):
    """A photo's 320 px thumbnail, on the same terms as the photo."""
    return _send_photo(photo_id, thumb=True)
