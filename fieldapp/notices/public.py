"""The public side of a notice (from the QR on the posted sheet): the masked list, the objection form with its
receipt, and the status lookup. No login, no script, `noindex`; nothing but masked names ever (N-4, §4.3).

Only notices that have opened are public; a draft, scheduled or cancelled notice and an unknown token all get the
same neutral 404 page, so a token reveals nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, make_response, request
from flask_babel import gettext as _

from ..core import access, clock
from ..core import idempotency
from ..core.idempotency import idempotent
from ..core.money import format_yuan
from ..extensions import db, limiter
from ..ratings import rules as rating_rules
from . import bp, objections, rules, services
from .models import Notice, NoticeItem
from .objection_forms import PublicObjectionForm, StatusLookupForm

PUBLIC_ENDPOINTS = frozenset({"notices.public_notice", "notices.public_object", "notices.public_status"})


def _objection_limit() -> str:
    return current_app.config.get("NOTICE_OBJECTION_RATE_LIMIT", "10 per hour")


def _lookup_limit() -> str:
    return current_app.config.get("NOTICE_LOOKUP_RATE_LIMIT", "20 per hour")


@bp.after_request
def _noindex(response):
    """Search engines never index a notice, its form or the lookup (nor their error pages)."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _page(template: str, status: int = 200, **context):
    response = make_response(_render(template, **context), status)
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _render(template: str, **context) -> str:
    from flask import render_template
    return render_template(template, **context)


def _missing():
    """The same answer for an unknown token and a notice that is not public (yet, or any more)."""
    return _page("notices/public_missing.html", status=404)


def _public_notice(token: str) -> Notice | None:
    notice = services.notice_by_token(token)
    if notice is None or notice.status not in objections.PUBLIC_NOTICE_STATUSES:
        return None
    return notice


def _refreshed(token: str) -> Notice | None:
    """The notice, closed or finalised on read when its window has ended. Committed on a GET; a POST's change
    commits with the request's own transaction (the objection form is idempotent: it must not commit itself)."""
    notice = _public_notice(token)
    if notice is None:
        return None
    if services.refresh(notice) and request.method == "GET":
        db.session.commit()
    return notice


def _keep_days() -> int:
    return int(current_app.config.get("NOTICE_LIST_KEEP_DAYS", 30))


def taken_down(notice: Notice, today=None) -> bool:
    """The list is removed NOTICE_LIST_KEEP_DAYS after the window ended (title and period stay)."""
    today = today or clock.today()
    return notice.ends_on is not None and today > notice.ends_on + timedelta(days=_keep_days())


def _village_name(notice: Notice) -> str:
    from ..org.models import Village
    village = db.session.get(Village, notice.village_id)
    return village.name if village else ""


@dataclass(frozen=True)
class Row:
    """One public line: only masked, public fields (N-4)."""

    item_id: int
    household_id: int
    name: str
    group: str
    grade: str
    line: str
    program: str
    status: str
    amended: bool
    note: str | None


def _whole_yuan(fen: int) -> str:
    """Lines are whole thousands: "50,000" (cents only when there are any), short enough for a phone's table."""
    return f"{fen // 100:,}" if fen % 100 == 0 else format_yuan(fen)


def row(item: NoticeItem) -> Row:
    return Row(item_id=item.id, household_id=item.household_id, name=item.display_name, group=item.group_name or "",
               grade=_(rating_rules.GRADE_LABELS.get(item.grade, item.grade)),
               line=_("%(amount)s yuan", amount=_whole_yuan(item.line_fen)),
               program=_(rating_rules.PRODUCT_LABELS.get(item.program, item.program)), status=item.status,
               amended=bool(item.amended), note=item.amendment_note)


def _header(notice: Notice) -> dict:
    today = clock.today()
    is_open = notice.status == "open"
    return {
        "notice": notice, "village_name": _village_name(notice), "is_open": is_open,
        "days_left": rules.days_left(notice.ends_on, today) if is_open else 0,
        "hotline": notice.hotline or current_app.config.get("NOTICE_HOTLINE", ""),
        "taken_down": taken_down(notice, today),
    }


def _supplements(notice: Notice) -> dict[int, Notice]:
    """Public supplements of this notice by household: where a changed item's correction is posted."""
    rows = db.session.scalars(sa.select(Notice).where(Notice.parent_id == notice.id,
                                                      Notice.status.in_(objections.PUBLIC_NOTICE_STATUSES)))
    found: dict[int, Notice] = {}
    for supplement in rows:
        for item in supplement.items:
            found[item.household_id] = supplement
    return found


@bp.get("/n/<token>")
@access.public
def public_notice(token: str):
    """公示: the masked list with a group filter, the period and days left, and how to object."""
    notice = _refreshed(token)
    if notice is None:
        return _missing()
    ctx = _header(notice)
    if ctx["taken_down"]:
        return _page("notices/public_notice.html", items=[], groups=[], group="", corrections={}, **ctx)
    items = [item for item in notice.items if item.status != "withdrawn"]
    groups = sorted({item.group_name for item in items if item.group_name})
    group = request.args.get("group", "")
    if group in groups:
        items = [item for item in items if item.group_name == group]
    else:
        group = ""
    parent = db.session.get(Notice, notice.parent_id) if notice.parent_id else None
    return _page("notices/public_notice.html", items=[row(item) for item in items], groups=groups, group=group,
                 corrections=_supplements(notice), parent=parent, **ctx)


def _object_page(notice: Notice, form: PublicObjectionForm, status: int = 200, error: str | None = None):
    return _page("notices/public_object.html", status=status, form=form, error=error, **_header(notice))


@bp.route("/n/<token>/object", methods=["GET", "POST"])
@limiter.limit(_objection_limit, methods=["POST"])
@access.public
@idempotent
def public_object(token: str):
    """The objection form: which household, named or anonymous, phone optional, grounds and text; a receipt back.
    Sent after the window it is recorded as a complaint (N-7)."""
    notice = _refreshed(token)
    if notice is None or taken_down(notice):
        return _missing()
    form = PublicObjectionForm()
    items = objections.objectable_items(notice)
    form.set_items(items)
    if request.method == "GET":
        # Bind this browser to its anonymous owner now: a double tap's two POSTs then carry the same owner and
        # the second replays the first's receipt (a first visit has no session yet).
        idempotency.owner()
        wanted = request.args.get("item", "")
        if wanted in {str(item.id) for item in items}:
            form.item.data = wanted
        return _object_page(notice, form)
    if not form.validate_on_submit():
        return _object_page(notice, form, status=422)
    item = next((i for i in items if i.id == form.item_id), None)
    if item is None:
        form.item.errors.append(_("Choose the household."))
        return _object_page(notice, form, status=422)
    try:
        objection = objections.file_objection(
            notice, item, name=form.objector_name, phone=form.phone.data or None, relation=form.relation.data,
            grounds=form.grounds.data, text=form.text.data, via="web")
    except objections.Refused as refused:
        return _object_page(notice, form, status=422, error=refused.message)
    # no commit here: @idempotent commits the objection together with its one-time key
    return _page("notices/public_receipt.html", objection=objection, item=item, **_header(notice))


@bp.route("/n/status", methods=["GET", "POST"])
@limiter.limit(_lookup_limit, methods=["POST"])
@access.public
def public_status():
    """Where is my objection? By receipt number and the phone given at filing; one "not found" for every miss."""
    form = StatusLookupForm()
    if request.method == "GET":
        form.receipt.data = objections.normalise_receipt(request.args.get("receipt", ""))
        return _page("notices/public_status.html", form=form, result=None, not_found=False)
    if not form.validate_on_submit():
        return _page("notices/public_status.html", status=422, form=form, result=None, not_found=False)
    result = objections.lookup(form.receipt.data, form.phone.data or None)
    if result is None:
        return _page("notices/public_status.html", form=StatusLookupForm(formdata=None), result=None,
                     not_found=True)
    return _page("notices/public_status.html", form=StatusLookupForm(formdata=None), result=result,
                 not_found=False, **_lookup_words(result))


def _lookup_words(result: objections.Lookup) -> dict:
    """Status in words; the decision in one line (phone given); the written reason (real-name objectors only)."""
    objection = result.objection
    words = {"status_words": str(objections.PUBLIC_STATUS_LABELS[objection.status]), "decision_line": None,
             "reason": None, "item_name": None}
    item = db.session.get(NoticeItem, objection.item_id) if objection.item_id else None
    if item is not None and result.show_decision:
        words["item_name"] = item.display_name
    if objection.status in ("decided", "replied") and result.show_decision and objection.decision:
        words["decision_line"] = str(objections.PUBLIC_DECISION_LINES[objection.decision])
        if result.show_reason:
            words["reason"] = objection.decision_reason
    return words
