"""Demo layer 4: public notices (公示) in three villages the ratings layer rated, with objections in every state.

Everything goes through the real use cases (notices.services, notices.objections, ratings re-rating, the photo
store), with the clock moved back so each step happens on its own day (T is today):
- an OPEN notice in the grid officer officer1's village with the most households to list (opened T-3, 7 days):
  objections received, investigating (with the investigation visit), decided rejected, decided upheld with the
  file corrected and the re-rating waiting for the branch manager (manager1 can approve it), decided and
  replied (the reply letter printed and handed over), and withdrawn;
- a FINALISED notice in a second village (opened T-18, ended T-12): every rating final, and a late complaint
  (N-7) filed after the window, being investigated, blocking nothing;
- a RE-NOTICE in a third village: the parent (opened T-12) got an objection upheld, the officer corrected the
  file, the branch manager approved the re-rating, the parent was finalised with that item "changed", and the
  supplementary notice (补充公示, 3 days) with the amended item opened on T-1: its rating is on re-notice.
The posting photos are small generated JPEGs stored through the photo pipeline, with the GPS of the village
centre. Items, ratings and objections stay consistent because the services move them together. Idempotent: once
the demo county has any notice, the layer adds nothing.
"""
from __future__ import annotations

import io
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app

from ..accounts.models import User
from ..core import clock
from ..extensions import db
from ..households import rules as hrules
from ..households import workflow
from ..households.models import Debt, Household
from ..households.sections import lpr_table
from ..notices import objections, services
from ..notices.models import Notice, NoticeItem, Objection, PrivateNotice
from ..org.models import Village
from ..visits.services import VisitInput, record_visit
from .households import _demo_villages, _staff_maps
from .ratings import _secretary

OFFICER_LOGIN = "officer1"   # the open notice is in one of this demo login's villages
HQ_LOGIN = "hq"              # approves a re-rating above the branch's authority
POSTING_PLACE = "村委会公示栏"


@dataclass(frozen=True)
class Objector:
    name: str | None
    phone: str | None
    relation: str
    grounds: str
    text: str
    via: str


RECEIVED = Objector("李秀英", "13987650001", "neighbour", "hidden_debt",
                    "他家去年找人借了五万块钱，登记的时候没有说。", "web")
INVESTIGATING = Objector(None, None, "other", "bad_habits", "这家户主经常打牌赌钱，不应该评这么高。", "paper")
REJECTED = Objector(None, None, "other", "other", "他家房子是借亲戚的，不是自己的。", "oral")
UPHELD = Objector("杨建华", "13987650004", "neighbour", "hidden_debt",
                  "他家欠同村人两万元，月息两分，评级时没有登记。", "web")
REPLIED = Objector("赵红梅", "13987650005", "relative", "false_income", "他家养牛的收入没有那么多。", "phone")
WITHDRAWN = Objector("段志强", "13987650006", "self", "self_dispute", "我家的额度比邻居低，想问问原因。", "oral")
LATE = Objector("何丽芬", "13987650007", "neighbour", "favouritism", "评议的时候村干部帮亲戚说话。", "paper")
RENOTICE = Objector("施玉兰", "13987650008", "neighbour", "hidden_debt",
                    "他家在外面借了高利贷，登记的时候没有报。", "web")


# ---------------------------------------------------------------- the clock

@contextmanager
def _clock_kept():
    """Restore the process clock after the layer moved it."""
    before = current_app.config.get("CLOCK_OFFSET_SECONDS", 0)
    try:
        yield
    finally:
        current_app.config["CLOCK_OFFSET_SECONDS"] = before


def _at(day: date, hour: int = 10, minute: int = 0) -> None:
    clock.set_now(current_app, datetime.combine(day, time(hour, minute), tzinfo=clock.LOCAL_TZ))


# ---------------------------------------------------------------- helpers

def board_photo(seed: int) -> bytes:
    """A small JPEG of a white sheet on a green board (the posting photo of the notice)."""
    from PIL import Image, ImageDraw
    image = Image.new("RGB", (800, 600), (52, 96 + seed * 17 % 60, 70))
    draw = ImageDraw.Draw(image)
    draw.rectangle((180, 60, 620, 560), fill=(246, 244, 236), outline=(40, 40, 40), width=3)
    draw.rectangle((230, 90, 570, 120), fill=(190, 30, 30))
    for row in range(14):
        top = 150 + row * 26
        draw.line((220, top, 580, top), fill=(120, 120, 120), width=2)
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=80)
    return buf.getvalue()


def _user(user_id: int | None) -> User | None:
    return db.session.get(User, user_id) if user_id else None


def _by_username(username: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.username == username))


def _open(notice: Notice, village: Village, user: User, seed: int) -> None:
    services.schedule(notice)
    services.open_notice(notice, user=user, photo=board_photo(seed), lat=village.centroid_lat,
                         lng=village.centroid_lng, accuracy_m=6.0)


def _draft(village: Village, officer: User, starts_on: date) -> Notice:
    return services.create_notice(village, user=officer, starts_on=starts_on, duration_days=services.settings().days,
                                  posting_place=POSTING_PLACE, hotline=services.settings().hotline)


def _file(notice: Notice, item: NoticeItem, who: Objector, recorder: User | None) -> Objection:
    objection = objections.file_objection(
        notice, item, name=who.name, phone=who.phone, relation=who.relation, grounds=who.grounds, text=who.text,
        via=who.via, user=recorder if who.via != "web" else None)
    officer_id = objections.default_officer_id(objection)
    if officer_id is not None:
        objections.assign(objection, officer_id)
    return objection


def _investigate(objection: Objection, officer: User, notes: str) -> None:
    """The officer visits the household about the objection (N-9) and links the visit."""
    household = db.session.get(Household, objection.household_id)
    village = db.session.get(Village, household.village_id)
    lat = household.home_lat if household.home_lat is not None else village.centroid_lat
    lng = household.home_lng if household.home_lng is not None else village.centroid_lng
    visit = record_visit(household, officer, VisitInput(purpose="dispute", outcome="done", notes=notes,
                                                        gps_lat=lat, gps_lng=lng, gps_accuracy_m=10.0))
    objections.investigate(objection, user=officer, visit_id=visit.id, notes=notes)


def _correct_file(household: Household, today: date) -> bool:
    """The investigation found a hidden private loan over the lawful cap: add it to the file, submit, accept.
    Only for a file at rest (accepted, or a draft of changes); returns whether the file was corrected."""
    if household.file_status not in ("accepted", "draft"):
        return False
    contract = today - timedelta(days=200)
    principal = 2_000_000
    result = hrules.assess_debt(kind="private", principal_written=principal, principal_received=principal,
                                rate_value=2, rate_unit="fen_month", contract_date=contract, written_contract=False,
                                table=lpr_table(), today=today)
    debt = Debt(household_id=household.id, kind="private", lender_type="individual", creditor_name="同村借款人",
                source="village", principal_written_fen=principal, principal_received_fen=principal,
                balance_fen=principal, contract_date=contract, rate_value=2, rate_unit="fen_month",
                written_contract=False, annual_rate=result.annual_rate, cap_rate=result.cap, status="normal",
                flags=[f for f in hrules.DEBT_FLAGS if f in result.flags])
    db.session.add(debt)
    if household.file_status == "accepted":
        household.file_status = "draft"
    db.session.flush()
    version = workflow.submit_version(household)
    workflow.decide(household, version, "accept", {})
    return True


def _approve(objection: Objection, manager: User | None) -> Notice | None:
    """The branch manager approves the re-rating (head office when the line is above the branch's authority)."""
    for user in (manager, _by_username(HQ_LOGIN)):
        if user is not None and objections.approval_problem(objection, user) is None:
            return objections.approve(objection, user=user, comment="经核实，同意重新评级")
    return None


def _items(notice: Notice) -> list[NoticeItem]:
    return services.items_of(notice)


def _correctable_first(items: list[NoticeItem]) -> list[NoticeItem]:
    """Items whose household file can take a correction first, the best grades first: the upheld objection is about
    the first, so its re-rating visibly lowers the grade and the line (a hidden loan costs a "good" household its
    grade, and keeps it listed)."""
    statuses = dict(db.session.execute(sa.select(Household.id, Household.file_status)
                                       .where(Household.id.in_([i.household_id for i in items]))).all())
    rank = {"excellent": 1, "good": 0, "fair": 2}
    return sorted(items, key=lambda i: (statuses.get(i.household_id) not in ("accepted", "draft"),
                                        rank.get(i.grade, 3), i.position))


# ---------------------------------------------------------------- the three notices

@dataclass
class Staff:
    officer: User
    manager: User | None
    secretary: User | None

    @property
    def poster(self) -> User:
        return self.secretary or self.officer


def _open_notice(village: Village, staff: Staff, today: date, counts: dict) -> None:
    """Opened T-3 for 7 days; one objection in every state (an upheld one waits for the branch manager)."""
    _at(today - timedelta(days=3), 9)
    notice = _draft(village, staff.officer, today - timedelta(days=3))
    _open(notice, village, staff.poster, seed=1)
    items = _correctable_first(_items(notice))
    pick = lambda n: items[n % len(items)]  # noqa: E731 - few items in a small demo: objections share them

    _at(today - timedelta(days=2), 11)
    upheld = _file(notice, pick(0), UPHELD, None)
    replied = _file(notice, pick(1), REPLIED, staff.officer)
    withdrawn = _file(notice, pick(2), WITHDRAWN, staff.poster)
    rejected = _file(notice, pick(3), REJECTED, staff.poster)
    _at(today - timedelta(days=2), 15)
    investigating = _file(notice, pick(4), INVESTIGATING, staff.poster)

    _at(today - timedelta(days=1), 10)
    _investigate(upheld, staff.officer, "走访核实：该户确有同村民间借款2万元，月息2分，未在建档时登记。")
    household = db.session.get(Household, upheld.household_id)
    corrected = _correct_file(household, today)
    objections.decide(upheld, user=staff.officer, decision="upheld", change=True,
                      reason="经走访核实，该户有未登记的民间借款2万元（月息2分，超过法定上限），"
                             "建档资料已更正，提请重新评级。" if corrected else
                      "经走访核实，该户有未登记的民间借款，提请重新评级。")
    _investigate(replied, staff.officer, "查看了养殖场和销售凭证，收入与建档一致。")
    objections.decide(replied, user=staff.officer, decision="rejected",
                      reason="经查看养殖场和牛只销售凭证，该户养殖收入与登记一致，异议不成立。")
    objections.decide(rejected, user=staff.officer, decision="rejected",
                      reason="经核实，房屋为该户自建，有宅基地证，异议不成立。")
    objections.withdraw(withdrawn, user=staff.officer, note="本人到村委会说明已了解额度原因，口头撤回。")
    _at(today - timedelta(days=1), 16)
    _investigate(investigating, staff.officer, "已走访邻居了解情况，待村委会进一步核实。")

    _at(today, 9)
    objections.mark_printed(replied)
    objections.record_reply(replied, channel="in_person", replied_on=today)
    _file(notice, pick(5), RECEIVED, None)
    counts["objections"] += 6
    counts["open"] = notice


def _finalised_notice(village: Village, staff: Staff, today: date, counts: dict) -> None:
    """Opened T-18 for 7 days, closed and finalised after T-12; a late complaint (N-7) came on T-10."""
    _at(today - timedelta(days=18), 9)
    notice = _draft(village, staff.officer, today - timedelta(days=18))
    _open(notice, village, staff.poster, seed=2)
    _at(today - timedelta(days=11), 8)
    services.refresh(notice)  # the window ended with T-12: closed, every item final, finalised
    _at(today - timedelta(days=10), 14)
    late = _file(notice, _items(notice)[0], LATE, staff.poster)
    _at(today - timedelta(days=9), 10)
    _investigate(late, staff.officer, "投诉在公示期满后收到，按投诉处理，正在调查评议会记录。")
    counts["objections"] += 1
    counts["finalised"] = notice


def _renotice(village: Village, staff: Staff, today: date, counts: dict) -> None:
    """Parent opened T-12; objection upheld and re-rated; parent finalised; the supplement opened T-1."""
    _at(today - timedelta(days=12), 9)
    parent = _draft(village, staff.officer, today - timedelta(days=12))
    _open(parent, village, staff.poster, seed=3)
    items = _correctable_first(_items(parent))
    _at(today - timedelta(days=11), 19)
    objection = _file(parent, items[0], RENOTICE, None)
    _at(today - timedelta(days=10), 10)
    _investigate(objection, staff.officer, "走访核实：该户在外借款2万元，月息2分，未在建档时登记。")
    _at(today - timedelta(days=9), 10)
    corrected = _correct_file(db.session.get(Household, objection.household_id), today - timedelta(days=9))
    objections.decide(objection, user=staff.officer, decision="upheld", change=True,
                      reason="经走访核实，该户有未登记的高息民间借款2万元，建档资料已更正，提请重新评级。"
                      if corrected else "经走访核实，该户有未登记的民间借款，提请重新评级。")
    _at(today - timedelta(days=8), 10)
    supplement = _approve(objection, staff.manager)
    _at(today - timedelta(days=7), 10)
    if objection.status == "decided" and objections.pending_rerating(objection) is None:
        objections.mark_printed(objection)
        objections.record_reply(objection, channel="secretary", replied_on=today - timedelta(days=7))
    _at(today - timedelta(days=5), 8)
    services.refresh(parent)  # closed after T-6; the other items final, the objected one changed: finalised
    if supplement is not None:
        _at(today - timedelta(days=1), 9)
        _open(supplement, village, staff.poster, seed=4)
        counts["supplement"] = supplement
    counts["objections"] += 1
    counts["renotice"] = parent


# ---------------------------------------------------------------- the layer

def _choose(villages: list[Village], officer: User | None, officer_by_village: dict[int, int],
            officer_by_group: dict[int, int]) -> list[Village]:
    """Up to three villages with households to list and a centre point: officer1's fullest village first (for the
    open notice), then officer1's other villages, then the county's, in code order."""
    eligible = {v.id: len(services.eligible_ratings(v)) for v in villages}
    mine: set[int] = set()
    if officer is not None:
        mine = {v for v, u in officer_by_village.items() if u == officer.id}
        groups = {g for g, u in officer_by_group.items() if u == officer.id}
        mine |= {v.id for v in villages if any(g.id in groups for g in v.groups)}
    usable = [v for v in villages if eligible[v.id] and v.centroid_lat is not None and v.centroid_lng is not None]
    first = sorted((v for v in usable if v.id in mine), key=lambda v: (-eligible[v.id], v.stat_code))
    rest = sorted((v for v in usable if v.id not in mine), key=lambda v: v.stat_code)
    if not first:
        first, rest = sorted(usable, key=lambda v: (-eligible[v.id], v.stat_code))[:1], rest
    # the finalised and re-notice villages: officer1's other villages first, then the county in code order
    return first[:1] + [v for v in first[1:] + rest if v not in first[:1]][:2]


def load_notices(options=None) -> str:
    villages = _demo_villages()
    if not villages:
        return "notices: no demo county (load the org layer first)"
    county_id = villages[0].county_id
    if db.session.scalar(sa.select(Notice.id).where(Notice.county_id == county_id).limit(1)) is not None:
        return "notices: nothing to add"
    today = clock.today()
    officer_by_group, officer_by_village, manager_by_village = _staff_maps([v.id for v in villages], today)
    officer1 = _by_username(OFFICER_LOGIN)
    chosen = _choose(villages, officer1, officer_by_village, officer_by_group)
    if not chosen:
        return "notices: no approved ratings with a notice consent to post (load the ratings layer first)"
    counts: dict = {"objections": 0}
    steps = (_open_notice, _finalised_notice, _renotice)
    with _clock_kept():
        for village, step in zip(chosen, steps):
            officer = _user(officer_by_village.get(village.id)) or officer1
            if officer is None:
                continue
            staff = Staff(officer=officer, manager=_user(manager_by_village.get(village.id)),
                          secretary=_user(_secretary(village)))
            step(village, staff, today, counts)
            db.session.flush()
    notices = db.session.scalar(sa.select(sa.func.count()).select_from(Notice).where(Notice.county_id == county_id))
    items = db.session.scalar(sa.select(sa.func.count()).select_from(NoticeItem)
                              .join(Notice, Notice.id == NoticeItem.notice_id).where(Notice.county_id == county_id))
    private = db.session.scalar(sa.select(sa.func.count()).select_from(PrivateNotice)
                                .where(PrivateNotice.county_id == county_id))
    names = {key: db.session.get(Village, counts[key].village_id).name
             for key in ("open", "finalised", "renotice") if key in counts}
    where = ", ".join(f"{label} {names[key]}" for key, label in
                      (("open", "open"), ("finalised", "finalised"), ("renotice", "re-notice")) if key in names)
    return (f"notices: added {notices} notices ({where}), {items} listed items, {counts['objections']} objections, "
            f"{private} private notices")
