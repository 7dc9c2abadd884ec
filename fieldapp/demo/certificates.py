"""Demo layer 5: credit certificates (授信证, domain W5) for every final rating of the demo county.

Everything goes through certificates.services, as staff would:
- issue: a credit line and an active certificate for every final rating whose grade is not 不予评级 (C-1), each on
  the day after its rating became final (never later than today), by the village's grid officer; the village's
  cards are then printed once (print count 1, audited);
- then, once, a few certificates change state (T is today): one reissued (T-2, card lost: the old one shows 已换发,
  the new one is active), one revoked (requested by the grid officer on T-2, approved by the branch manager on T-1:
  maker-checker, two different demo users), two suspended as 逾期 (overdue) and one as 村级风险管控 (village_risk)
  on T-1. With few final ratings the list is cut short in that order, so an active certificate always remains.
The demo's final ratings come from the notices layer (its finalised village and the re-notice's parent), so the
county has a handful of certificates. Idempotent: ratings already issued are skipped, and the state changes are
made only while no certificate of the county has left the active state.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app

from ..accounts.models import User
from ..certificates import services
from ..certificates.models import Certificate
from ..core import clock
from ..extensions import db
from ..ratings.models import Rating
from .households import _demo_villages, _staff_maps
from .notices import _clock_kept

OFFICER_LOGIN = "officer1"    # fallback issuer and revocation maker
MANAGER_LOGIN = "manager1"    # fallback revocation checker
REISSUE_REASON = "户主报失原授信证，申请补发"
REVOKE_REASON = "核实发现户主隐瞒重大负债，经复核撤销授信"
OVERDUE_REASON = "贷款逾期未还，暂停用信"
VILLAGE_RISK_REASON = "村级风险管控：村内不良贷款率超过警戒线"


def _by_username(username: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.username == username))


def _user(user_id: int | None) -> User | None:
    return db.session.get(User, user_id) if user_id else None


def _set_clock(moment: datetime) -> None:
    clock.set_now(current_app, moment)


def _local(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour, 0), tzinfo=clock.LOCAL_TZ)


def _issue_moment(rating: Rating, now: datetime) -> datetime:
    """10:00 on the day after the rating became final, never later than now."""
    day = clock.to_local(rating.status_changed_at).date() + timedelta(days=1)
    return min(_local(day, 10), now)


def _issue_all(villages, officer_by_village, fallback: User | None, now: datetime) -> list[Certificate]:
    """Issue every final rating still without a credit line, oldest first (so numbers follow the days), by the
    village's grid officer; then print each village's new cards once."""
    ratings = [db.session.get(Rating, rid) for village in villages for rid in services.ratings_to_issue(village.id)]
    ratings = [r for r in ratings if services.issue_problem(r) is None]
    by_village: dict[int, list[Certificate]] = {}
    last: dict[int, datetime] = {}
    for rating in sorted(ratings, key=lambda r: (r.status_changed_at, r.id)):
        last[rating.village_id] = moment = _issue_moment(rating, now)
        _set_clock(moment)
        officer = _user(officer_by_village.get(rating.village_id)) or fallback
        by_village.setdefault(rating.village_id, []).append(services.issue(rating, user=officer))
    for village_id, certs in by_village.items():
        _set_clock(min(last[village_id] + timedelta(hours=4), now))  # the village's cards, printed that afternoon
        services.print_cards(certs, _user(officer_by_village.get(village_id)) or fallback)
    db.session.flush()
    return [c for certs in by_village.values() for c in certs]


def _changed_already(county_id: int) -> bool:
    return db.session.scalar(
        sa.select(Certificate.id).where(Certificate.county_id == county_id,
                                        sa.or_(Certificate.status != "active",
                                               Certificate.revoke_requested_by.is_not(None))).limit(1)) is not None


def _change_states(county_id: int, officer_by_village, manager_by_village, today: date, now: datetime) -> dict:
    """Reissue one, revoke one, suspend two as overdue and one as village_risk (as far as the certificates go,
    always leaving one active)."""
    certs = db.session.scalars(sa.select(Certificate).where(Certificate.county_id == county_id,
                                                            Certificate.status == "active")
                               .order_by(Certificate.id)).all()
    officer1, manager1 = _by_username(OFFICER_LOGIN), _by_username(MANAGER_LOGIN)
    done = {"reissued": 0, "revoked": 0, "overdue": 0, "village_risk": 0}
    if not certs:
        return done
    steps = ["reissue", "revoke", "overdue", "village_risk", "overdue"]
    # one certificate per step: the reissued one's replacement stays active, so one active certificate remains
    plan = steps[:len(certs)]
    last_issued = clock.to_local(max(c.issued_at for c in certs))

    def at(days_before: int, hour: int) -> None:
        """T-days_before at `hour`, but after the last issue and never later than now."""
        moment = min(_local(today - timedelta(days=days_before), hour), now)
        _set_clock(max(moment, min(last_issued + timedelta(minutes=5), now)))

    for cert, step in zip(certs, plan):
        officer = _user(officer_by_village.get(cert.village_id)) or officer1
        manager = _user(manager_by_village.get(cert.village_id)) or manager1
        if step == "reissue":
            at(2, 10)
            services.print_cards([services.reissue(cert, officer, REISSUE_REASON)], officer)
            done["reissued"] += 1
        elif step == "revoke":
            if manager is None or officer is None or manager.id == officer.id:
                continue
            at(2, 14)
            services.request_revoke(cert, REVOKE_REASON, officer)
            at(1, 9)
            services.approve_revoke(cert, manager)
            done["revoked"] += 1
        elif step == "overdue":
            at(1, 11)
            services.suspend(cert, "overdue", OVERDUE_REASON, officer)
            done["overdue"] += 1
        else:
            at(1, 15)
            services.suspend(cert, "village_risk", VILLAGE_RISK_REASON, manager or officer)
            done["village_risk"] += 1
    db.session.flush()
    return done


def load_certificates(options=None) -> str:
    villages = _demo_villages()
    if not villages:
        return "certificates: no demo county (load the org layer first)"
    county_id = villages[0].county_id
    today = clock.today()
    now = clock.now()
    _by_group, officer_by_village, manager_by_village = _staff_maps([v.id for v in villages], today)
    with _clock_kept():
        issued = _issue_all(villages, officer_by_village, _by_username(OFFICER_LOGIN), now)
        changes = None
        if not _changed_already(county_id):
            _set_clock(now)
            changes = _change_states(county_id, officer_by_village, manager_by_village, today, now)
    if not issued and not (changes and any(changes.values())):
        return "certificates: nothing to add"
    parts = [f"certificates: issued {len(issued)}"]
    if changes:
        parts.append(", ".join(f"{n} {label}" for label, n in changes.items()))
    return "; ".join(parts)
