"""Rating use cases: the model in force, proposing, rescoring after review, maker-checker approval, lifecycle.

Every decision (points, grade, line, transitions, who may approve) is asked of rules.py; this module loads the
facts, stores the results and checks who is acting.
"""
from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from ..core import audit, clock, jobs
from ..core.clock import utcnow_naive
from ..extensions import db
from ..households.models import CreditFile, Household
from ..households.workflow import current_accepted
from . import rules
from .models import ENDED_STATUSES, BonusRecommendation, Rating, ReviewItem, ScoringModel

ON_NOTICE = ("on_notice", "re_notice")


class Refused(Exception):
    """A step the rules or the separation of duties do not allow; `message` is for the user."""

    def __init__(self, message: str, code: str = "refused", problems: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.problems = problems or [message]


# ---------------------------------------------------------------- the model in force

def current_model() -> ScoringModel:
    """The newest published model version; version 1 (the default model) is published on first use."""
    model = db.session.scalar(sa.select(ScoringModel).order_by(ScoringModel.version_no.desc()).limit(1))
    if model is not None:
        return model
    model = ScoringModel(version_no=1, name="默认模型 (四个一)", params=rules.DEFAULT_MODEL, note=None)
    try:
        with db.session.begin_nested():
            db.session.add(model)
    except IntegrityError:  # published concurrently: use theirs
        return db.session.scalar(sa.select(ScoringModel).where(ScoringModel.version_no == 1))
    return model


def publish_model(params: dict, *, name: str, note: str | None, user_id: int | None) -> ScoringModel:
    """Validate and publish a new version; existing ratings keep the version they were scored with."""
    problems = [_(msgid, **values) for msgid, values in rules.model_problems(params)]
    if problems:
        raise Refused(_("The model has problems; nothing was published."), code="invalid_model", problems=problems)
    last = current_model()
    model = ScoringModel(version_no=last.version_no + 1, name=name, params=params, note=note,
                         published_by=user_id, published_at=utcnow_naive())
    db.session.add(model)
    db.session.flush()
    return model


# ---------------------------------------------------------------- facts and scores

def active_bonuses(household_id: int) -> list[BonusRecommendation]:
    return list(db.session.scalars(sa.select(BonusRecommendation).where(
        BonusRecommendation.household_id == household_id, BonusRecommendation.withdrawn_at.is_(None))
        .order_by(BonusRecommendation.id)))


def facts_for(household: Household, version: CreditFile, params: dict, on: date | None = None):
    bonuses = [b.kind for b in active_bonuses(household.id)]
    return rules.facts_from_snapshot(version.snapshot or {}, on=on or clock.today(), tags=tuple(household.tags or ()),
                                     bonuses=tuple(bonuses), model=params)


def _apply_result(rating: Rating, result) -> None:
    rating.base_score = result.base
    rating.bonus = result.bonus
    rating.deduction = result.deduction
    rating.final_score = result.final_score
    rating.grade = result.grade
    rating.vetoes = list(result.vetoes)
    rating.suggested_line_fen = result.suggested_line_fen
    rating.rate_tier = result.rate_tier
    rating.breakdown = result.as_dict()


def live_rating(household_id: int) -> Rating | None:
    return db.session.scalar(sa.select(Rating).where(Rating.live_household_id == household_id))


def ratings_of(household_id: int) -> list[Rating]:
    """Every rating of the household, newest first (history)."""
    return list(db.session.scalars(sa.select(Rating).where(Rating.household_id == household_id)
                                   .order_by(Rating.id.desc())))


def _set_status(rating: Rating, event: str) -> None:
    try:
        rating.status = rules.next_status(rating.status, event)
    except rules.TransitionRefused as exc:
        raise Refused(_("This rating cannot take that step now."), code="transition") from exc
    rating.status_changed_at = utcnow_naive()
    if rating.status in ENDED_STATUSES:
        rating.live_household_id = None


def propose(household: Household, *, user_id: int | None) -> Rating:
    """Score the household's accepted file (RV-5) under the model in force.

    Idempotent: a live rating on the same file version is returned unchanged; a live rating on an older version
    is superseded (kept as history) by the new one.
    """
    version = current_accepted(household)
    if version is None:
        raise Refused(_("Only an accepted credit file can be rated."), code="not_accepted")
    existing = live_rating(household.id)
    if existing is not None and existing.credit_file_id == version.id:
        return existing
    model = current_model()
    result = rules.score(facts_for(household, version, model.params), model.params)
    rating = Rating(county_id=household.county_id, village_id=household.village_id, group_id=household.group_id,
                    household_id=household.id, live_household_id=household.id, credit_file_id=version.id,
                    file_version_no=version.version_no, model_id=model.id, model_version=model.version_no,
                    status="proposed", proposed_by=user_id, proposed_at=utcnow_naive())
    _apply_result(rating, result)
    if existing is not None:
        _set_status(existing, "supersede")
        db.session.flush()  # frees live_household_id before the new row claims it
    db.session.add(rating)
    db.session.flush()
    if existing is not None:
        existing.superseded_by_id = rating.id
    return rating


def rescore(rating: Rating, *, character=None, committee_vetoes=()) -> None:
    """Score again with the committee's votes, under the rating's own model version and file version."""
    household = db.session.get(Household, rating.household_id)
    version = db.session.get(CreditFile, rating.credit_file_id)
    params = db.session.get(ScoringModel, rating.model_id).params
    result = rules.score(facts_for(household, version, params), params, character=character,
                         committee_vetoes=tuple(committee_vetoes))
    _apply_result(rating, result)


def record_review(rating: Rating, *, meeting_id: int, character, committee_vetoes) -> None:
    """The meeting closed: store its votes in the score; a veto ends in not_rated (W3 "any -(veto)-> not_rated")."""
    rescore(rating, character=character, committee_vetoes=committee_vetoes)
    rating.meeting_id = meeting_id
    rating.reviewed_at = utcnow_naive()
    _set_status(rating, "veto" if rating.vetoes else "review")


# ---------------------------------------------------------------- maker-checker (SD-1, RT-9)

def approval_role_needed(rating: Rating, line_fen: int | None = None) -> str:
    params = db.session.get(ScoringModel, rating.model_id).params
    return rules.approval_role_needed(rating.effective_line_fen if line_fen is None else line_fen, params)


def request_override(rating: Rating, user, *, grade: str | None, line_fen: int | None, reason: str) -> None:
    """Propose another grade or line than the model's: needs a written reason and a second person's approval."""
    if rating.status != "reviewed":
        raise Refused(_("Only a reviewed rating can be overridden before approval."), code="transition")
    if not (reason or "").strip():
        raise Refused(_("An override of the grade or the line needs a written reason."), code="no_reason")
    if grade is None and line_fen is None:
        raise Refused(_("Give the new grade or the new line."), code="nothing")
    if grade is not None and grade not in rules.GRADES:
        raise Refused(_("Choose a grade from the list."), code="grade")
    if line_fen is not None and line_fen < 0:
        raise Refused(_("A credit line cannot be negative."), code="line")
    if rating.vetoes and (line_fen or 0) > 0:
        raise Refused(_("A vetoed household cannot be given a credit line."), code="veto")
    rating.override_grade = grade
    rating.override_line_fen = line_fen
    rating.override_reason = reason.strip()
    rating.override_by = user.id
    rating.override_at = utcnow_naive()
    audit.record("rating.override", "Rating", rating.id, reason=reason.strip(),
                 changes={"grade": grade, "line_fen": line_fen})


def approval_problem(rating: Rating, user) -> str | None:
    """Why `user` may not approve `rating` (None when they may)."""
    if rating.status != "reviewed":
        return _("Only a rating the village has reviewed can be approved.")
    if user.id == rating.proposed_by:
        return _("You proposed this rating, so someone else must approve it (maker-checker).")
    if rating.override_by is not None and user.id == rating.override_by:
        return _("You asked for this override, so someone else must approve it (maker-checker).")
    line = rating.override_line_fen if rating.override_line_fen is not None else rating.suggested_line_fen
    needed = approval_role_needed(rating, line)
    if needed == "hq_admin" and not user.has_role("hq_admin"):
        return _("This credit line is above the branch's approval authority: head office must approve it.")
    if not user.has_role("branch_manager", "hq_admin"):
        return _("Only a branch manager or head office can approve ratings.")
    return None


def approve(rating: Rating, user, *, comment: str | None = None) -> None:
    problem = approval_problem(rating, user)
    if problem:
        raise Refused(problem, code="not_allowed")
    params = db.session.get(ScoringModel, rating.model_id).params
    rating.approved_grade = rating.override_grade or rating.grade
    rating.approved_line_fen = (rating.override_line_fen if rating.override_line_fen is not None
                                else rating.suggested_line_fen)
    if rating.approved_grade == "not_rated":
        rating.approved_line_fen = 0
    rating.approved_by = user.id
    rating.approved_role = "hq_admin" if user.has_role("hq_admin") else "branch_manager"
    rating.approved_at = utcnow_naive()
    rating.approval_comment = (comment or "").strip() or None
    rating.valid_from = clock.today()
    rating.valid_to = rules.valid_to(clock.today(), params)
    _set_status(rating, "veto" if rating.approved_grade == "not_rated" else "approve")
    audit.record("rating.approved", "Rating", rating.id, reason=rating.approval_comment,
                 changes={"grade": rating.approved_grade, "line_fen": rating.approved_line_fen,
                          "override": rating.override_by is not None})


def transition(rating: Rating, event: str) -> None:
    """A lifecycle step driven by another capability (notice opens, objection upheld, finalised, withdrawn)."""
    _set_status(rating, event)


# ---------------------------------------------------------------- re-rating after an upheld objection (W4 N-10, N-11)

def meeting_tally(rating: Rating):
    """The committee's character tally and vetoes for `rating` from its review item (None, () when it has none)."""
    item = db.session.scalar(sa.select(ReviewItem).where(ReviewItem.rating_id == rating.id)
                             .order_by(ReviewItem.id.desc()).limit(1))
    if item is None or not item.tally:
        return None, ()
    tally = rules.CharacterTally(yes=item.tally.get("yes", {}), voters=int(item.tally.get("voters", 0)))
    return tally, tuple(item.tally.get("vetoes", ()))


def propose_rerating(old: Rating, *, user_id: int | None, set_aside_committee: bool = False) -> Rating:
    """Score the household's current accepted file again for an upheld objection, under the old rating's model.

    The committee's votes carry over, unless clan pressure or favouritism was found (N-11): then the branch
    re-scores with the committee result set aside. The new rating waits (not live) for a second person's approval.
    """
    if old.status not in ON_NOTICE:
        raise Refused(_("Only a rating on public notice can be re-rated after an objection."), code="transition")
    pending = db.session.scalar(sa.select(Rating).where(Rating.replaces_id == old.id, Rating.status == "reviewed"))
    if pending is not None:
        return pending
    household = db.session.get(Household, old.household_id)
    version = current_accepted(household)
    model = db.session.get(ScoringModel, old.model_id)
    tally, vetoes = (None, ()) if set_aside_committee else meeting_tally(old)
    result = rules.score(facts_for(household, version, model.params), model.params, character=tally,
                         committee_vetoes=vetoes)
    rating = Rating(county_id=old.county_id, village_id=old.village_id, group_id=old.group_id,
                    household_id=old.household_id, live_household_id=None, credit_file_id=version.id,
                    file_version_no=version.version_no, model_id=model.id, model_version=model.version_no,
                    meeting_id=None if set_aside_committee else old.meeting_id, status="reviewed",
                    proposed_by=user_id, proposed_at=utcnow_naive(), reviewed_at=utcnow_naive(), replaces_id=old.id)
    _apply_result(rating, result)
    db.session.add(rating)
    db.session.flush()
    audit.record("rating.rerating", "Rating", rating.id, changes={"replaces": old.id,
                                                                  "committee_set_aside": set_aside_committee})
    return rating


def approve_rerating(rating: Rating, user, *, comment: str | None = None) -> Rating:
    """A second person approves the re-rating: it replaces the on-notice rating and goes on a short re-notice.

    Returns the replaced rating. A vetoed re-rating ends the old one as not_rated instead (no notice: N-5).
    """
    old = db.session.get(Rating, rating.replaces_id) if rating.replaces_id else None
    if old is None or old.status not in ON_NOTICE:
        raise Refused(_("This re-rating no longer has a rating on notice to replace."), code="transition")
    approve(rating, user, comment=comment)  # maker-checker and authority, as for any approval
    _set_status(old, "supersede")
    old.superseded_by_id = rating.id
    db.session.flush()  # frees the household's live slot
    rating.live_household_id = rating.household_id
    if rating.status == "approved":
        _set_status(rating, "renotice")
    return old


# ---------------------------------------------------------------- time and new file versions

@jobs.tick_task("ratings.expire")
def expire_due() -> int:
    """Final ratings past valid_to become expired (also computed on read by `is_expired`)."""
    today = clock.today()
    due = list(db.session.scalars(sa.select(Rating).where(Rating.status == "final", Rating.valid_to < today)))
    for rating in due:
        _set_status(rating, "expire")
    return len(due)


def is_expired(rating: Rating, today: date | None = None) -> bool:
    return rating.status == "final" and rating.valid_to is not None and rating.valid_to < (today or clock.today())


def on_file_accepted(household: Household) -> Rating | None:
    """A new file version was accepted: a household already rated is re-rated on it (history kept)."""
    live = live_rating(household.id)
    if live is None and not ratings_of(household.id):
        return None
    if live is not None and live.status in ON_NOTICE:
        return None  # on notice: a change goes through the objection's re-rating (propose_rerating)
    version = current_accepted(household)
    return propose(household, user_id=version.submitted_by if version else None)


# ---------------------------------------------------------------- batch rating of a village

def village_households_to_rate(village_id: int) -> list[int]:
    """Households of the village with an accepted file and no live rating on that version."""
    accepted = (sa.select(CreditFile.household_id, sa.func.max(CreditFile.id).label("file_id"))
                .where(CreditFile.status == "accepted").group_by(CreditFile.household_id).subquery())
    stmt = (sa.select(Household.id).join(accepted, accepted.c.household_id == Household.id)
            .outerjoin(Rating, sa.and_(Rating.live_household_id == Household.id,
                                       Rating.credit_file_id == accepted.c.file_id))
            .where(Household.village_id == village_id, Household.status == "active", Rating.id.is_(None))
            .order_by(Household.id))
    return list(db.session.scalars(stmt))


def _batch_items(params: dict):
    return [str(i) for i in params.get("household_ids", [])]


def _batch_process(params: dict, key: str) -> None:
    household = db.session.get(Household, int(key))
    if household is None or household.status != "active":
        return
    try:
        propose(household, user_id=params.get("user_id"))
    except Refused:
        return  # the file was reopened since the batch was queued: nothing to rate


jobs.register("ratings.rate_village", _batch_items, _batch_process, chunk=25)


def start_batch(village_id: int, *, user_id: int, idem: str | None = None,
                household_ids: list[int] | None = None) -> jobs.Job:
    """Queue rating of the village's unrated accepted households (or the given ones: an officer whose grid holds
    only some groups rates only those); one job per village and request key."""
    ids = village_households_to_rate(village_id) if household_ids is None else list(household_ids)
    key = f"ratings:{village_id}:{idem}" if idem else None
    return jobs.enqueue("ratings.rate_village", {"village_id": village_id, "household_ids": ids, "user_id": user_id},
                        user_id=user_id, dedupe_key=key)


def valid_days_left(rating: Rating, today: date | None = None) -> int | None:
    if rating.valid_to is None:
        return None
    return (rating.valid_to - (today or clock.today())) // timedelta(days=1)
