"""Visit records and consents through the real routes: flags, the file's state (W2, V-3), offline markup, junk input."""
from __future__ import annotations

import io
import re
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from fieldapp.core import clock
from fieldapp.core.idempotency import new_key
from fieldapp.extensions import db
from fieldapp.households.models import Household
from fieldapp.visits import services
from fieldapp.visits.models import Consent, Photo, Visit
from tests.conftest import HX, login

LOCAL = clock.LOCAL_TZ


def local_input(moment_utc: datetime) -> str:
    """What a phone's datetime-local input holds for a naive-UTC moment (Beijing time)."""
    return moment_utc.replace(tzinfo=timezone.utc).astimezone(LOCAL).strftime("%Y-%m-%dT%H:%M")


def visit_form(**over) -> dict:
    now = clock.utcnow_naive()
    data = {"purpose": "first", "outcome": "done", "companions": "村支书 张书记", "notes": "家中养牛5头",
            "device_started_at": local_input(now - timedelta(minutes=20)), "device_ended_at": local_input(now),
            "opened_at": services.sign_opened_at(now - timedelta(minutes=20)), "idem_key": new_key()}
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def visits(household_id: int) -> list[Visit]:
    return list(db.session.scalars(sa.select(Visit).where(Visit.household_id == household_id).order_by(Visit.id)))


def reload(h: Household) -> Household:
    db.session.expire_all()
    return db.session.get(Household, h.id)


def place_home(h: Household, lat=26.5, lng=99.9) -> None:
    h.home_lat, h.home_lng = lat, lng
    db.session.commit()


@pytest.fixture
def officer(client, world):
    client.set_cookie("lang", "en")
    login(client, world.officer)
    return world.officer


# ---------------------------------------------------------------- the form

def test_the_visit_form_follows_the_offline_contract(client, world, officer):
    page = client.get(f"/households/{world.h1.id}/visits/new").get_data(as_text=True)
    form = re.search(r'<form id="visit-form"[^>]*>', page).group(0)
    assert "data-offline" in form and f'data-draft-key="h{world.h1.id}:visit"' in form
    assert re.search(r'name="idem_key"[^>]*value="[0-9a-f]{32}"', page)
    assert re.search(r'name="opened_at"[^>]*value="[^"]+"', page)
    for name, which in (("device_started_at", "start"), ("device_ended_at", "end")):
        assert re.search(rf'<input[^>]*data-device-time="{which}"[^>]*name="{name}"[^>]*type="datetime-local"', page) \
            or re.search(rf'<input[^>]*name="{name}"[^>]*type="datetime-local"', page)
    for name, geo in (("gps_lat", "lat"), ("gps_lng", "lng"), ("gps_accuracy_m", "accuracy")):
        assert re.search(rf'<input[^>]*data-geo="{geo}"[^>]*name="{name}"[^>]*type="hidden"', page), name
    assert "<script" not in page.split("</head>")[1] and 'style="' not in page
    # an htmx request gets the form alone
    fragment = client.get(f"/households/{world.h1.id}/visits/new", headers=HX).get_data(as_text=True)
    assert fragment.lstrip().startswith('<form id="visit-form"') and "<html" not in fragment


def test_the_first_visit_opens_the_file_and_sets_the_last_visit(client, world, officer):
    resp = client.post(f"/households/{world.h1.id}/visits/new",
                       data=visit_form(next_visit_on=(clock.today() + timedelta(days=30)).isoformat()))
    assert resp.status_code == 303, resp.get_data(as_text=True)[:800]
    [visit] = visits(world.h1.id)
    assert resp.headers["Location"] == f"/visits/{visit.id}"
    h = reload(world.h1)
    assert h.file_status == "draft" and h.last_visit_outcome == "done" and h.last_visit_at == visit.started_at
    assert h.next_visit_on == clock.today() + timedelta(days=30) and h.failed_attempts == 0
    assert visit.staff_id == officer.id and visit.companions == "村支书 张书记" and visit.purpose == "first"
    assert visit.ended_at >= visit.started_at and not visit.clock_skew_flag and not visit.off_site
    assert visit.gps_lat is None and visit.distance_m is None
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "家中养牛5头" in page and "李网格" in page and 'id="visit-flags"' not in page
    assert "geo:" not in page  # no location known


def test_an_htmx_save_is_told_where_to_go(client, world, officer):
    resp = client.post(f"/households/{world.h1.id}/visits/new", data=visit_form(), headers=HX)
    [visit] = visits(world.h1.id)
    assert resp.status_code == 200 and resp.headers["HX-Redirect"] == f"/visits/{visit.id}"


def test_the_same_key_twice_records_one_visit(client, world, officer):
    data = visit_form()
    first = client.post(f"/households/{world.h1.id}/visits/new", data=data)
    again = client.post(f"/households/{world.h1.id}/visits/new", data=data, headers=HX)
    assert first.status_code == 303 and again.headers["HX-Redirect"] == first.headers["Location"]
    assert len(visits(world.h1.id)) == 1 and reload(world.h1).version == 2


# ---------------------------------------------------------------- flags (never blocking)

def test_a_precise_visit_at_the_home_raises_no_flag_and_links_to_the_home(client, world, officer):
    place_home(world.h1)
    resp = client.post(f"/households/{world.h1.id}/visits/new",
                       data=visit_form(gps_lat="26.5003", gps_lng="99.9002", gps_accuracy_m="12"))
    [visit] = visits(world.h1.id)
    assert not visit.off_site and not visit.clock_skew_flag and 30 < visit.distance_m < 45
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'href="geo:26.500000,99.900000"' in page and 'id="visit-flags"' not in page


def test_clock_skew_low_accuracy_and_off_site_are_flagged_for_review_but_saved(client, world, officer):
    place_home(world.h1)
    now = clock.utcnow_naive()
    resp = client.post(f"/households/{world.h1.id}/visits/new", data=visit_form(
        opened_at=services.sign_opened_at(now - timedelta(minutes=5)),
        device_started_at=local_input(now - timedelta(minutes=40)),  # the phone is 35 minutes off
        gps_lat="26.51", gps_lng="99.9", gps_accuracy_m="250"))      # about 1.1 km away, ±250 m
    assert resp.status_code == 303
    [visit] = visits(world.h1.id)
    assert visit.clock_skew_flag and visit.off_site and 1000 < visit.distance_m < 1200
    assert services.flags_of(visit) == ["clock_skew", "low_accuracy", "off_site"]
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'id="visit-flags"' in page
    for flag in ("clock_skew", "low_accuracy", "off_site"):
        assert f'data-flag="{flag}"' in page
    assert "Recorded more than 500 m from the home." in page
    # an off-site fix does not become the home's location
    assert (reload(world.h1).home_lat, reload(world.h1).home_lng) == (26.5, 99.9)


def test_off_site_is_measured_from_the_village_centroid_when_the_home_is_unknown(client, world, officer):
    world.v1.centroid_lat, world.v1.centroid_lng = 26.0, 99.0
    db.session.commit()
    client.post(f"/households/{world.h1.id}/visits/new",
                data=visit_form(gps_lat="26.0", gps_lng="99.01", gps_accuracy_m="20"))
    [visit] = visits(world.h1.id)
    assert visit.off_site and 990 < visit.distance_m < 1010
    assert reload(world.h1).home_lat is None  # an off-site fix teaches nothing


def test_a_precise_completed_visit_gives_an_unknown_home_its_location(client, world, officer):
    client.post(f"/households/{world.h2.id}/visits/new",
                data=visit_form(gps_lat="26.1234567", gps_lng="99.7654321", gps_accuracy_m="15"))
    h = reload(world.h2)
    assert (h.home_lat, h.home_lng) == (26.1234567, 99.7654321)
    # an imprecise or unsuccessful one does not
    client.post(f"/households/{world.h3.id}/visits/new",
                data=visit_form(gps_lat="26.2", gps_lng="99.7", gps_accuracy_m="300"))
    client.post(f"/households/{world.h3.id}/visits/new",
                data=visit_form(outcome="not_home", gps_lat="26.2", gps_lng="99.7", gps_accuracy_m="10"))
    assert reload(world.h3).home_lat is None


def test_malformed_gps_is_ignored_never_blocking(client, world, officer):
    resp = client.post(f"/households/{world.h1.id}/visits/new",
                       data=visit_form(gps_lat="nan", gps_lng="999", gps_accuracy_m="-5"))
    assert resp.status_code == 303
    [visit] = visits(world.h1.id)
    assert visit.gps_lat is None and visit.gps_lng is None and visit.gps_accuracy_m is None


def test_a_forged_or_missing_opened_stamp_falls_back_to_the_save_time(client, world, officer):
    now = clock.utcnow_naive()
    client.post(f"/households/{world.h1.id}/visits/new",
                data=visit_form(opened_at="forged.stamp", device_started_at=local_input(now - timedelta(hours=3))))
    [visit] = visits(world.h1.id)
    assert abs((visit.started_at - now).total_seconds()) < 60 and visit.clock_skew_flag


# ---------------------------------------------------------------- V-3 and the file's state

def _on_day(app, days: int, hour: int = 3) -> None:
    """Move the clock to `days` from now, at hour:00 UTC (11:00 in the village)."""
    base = datetime.now(timezone.utc).replace(hour=hour, minute=0, second=0, microsecond=0)
    clock.set_now(app, base + timedelta(days=days))


def _attempt(client, h, outcome: str):
    now = clock.utcnow_naive()
    resp = client.post(f"/households/{h.id}/visits/new", data=visit_form(
        outcome=outcome, purpose="follow_up", opened_at=services.sign_opened_at(now),
        device_started_at=local_input(now), device_ended_at=local_input(now)))
    assert resp.status_code == 303, resp.get_data(as_text=True)[:800]


def test_three_failed_attempts_on_different_days_set_the_file_aside_and_a_completed_visit_brings_it_back(
        app, client, world, officer):
    _on_day(app, 1)
    _attempt(client, world.h1, "not_home")
    h = reload(world.h1)
    assert h.file_status == "draft" and h.failed_attempts == 1 and h.last_visit_outcome == "not_home"
    _on_day(app, 1, hour=8)
    _attempt(client, world.h1, "not_home")  # the same day counts once
    assert reload(world.h1).failed_attempts == 1
    _on_day(app, 2)
    _attempt(client, world.h1, "refused")  # reached the household: neither counts nor resets
    _attempt(client, world.h1, "unreachable")
    h = reload(world.h1)
    assert h.file_status == "draft" and h.failed_attempts == 2
    _on_day(app, 3)
    _attempt(client, world.h1, "not_home")
    h = reload(world.h1)
    assert h.file_status == "pending_revisit" and h.failed_attempts == 3 and h.last_visit_outcome == "not_home"
    _on_day(app, 4)
    _attempt(client, world.h1, "not_home")  # still set aside
    assert reload(world.h1).file_status == "pending_revisit"
    _on_day(app, 5)
    _attempt(client, world.h1, "done")
    h = reload(world.h1)
    assert h.file_status == "draft" and h.failed_attempts == 0 and h.last_visit_outcome == "done"
    assert len(visits(world.h1.id)) == 7


def test_a_completed_visit_clears_a_due_next_visit_date_unless_it_sets_a_new_one(client, world, officer):
    world.h1.next_visit_on = clock.today()
    db.session.commit()
    client.post(f"/households/{world.h1.id}/visits/new", data=visit_form(outcome="not_home"))
    assert reload(world.h1).next_visit_on == clock.today()  # still due
    client.post(f"/households/{world.h1.id}/visits/new", data=visit_form())
    assert reload(world.h1).next_visit_on is None


# ---------------------------------------------------------------- refusals of bad input

@pytest.mark.parametrize(("field", "value"), [
    pytest.param("purpose", "party", id="unknown-purpose"),
    pytest.param("outcome", "", id="no-outcome"),
    pytest.param("device_started_at", "yesterday", id="junk-time"),
    pytest.param("device_started_at", "1899-01-01T10:00", id="time-out-of-range"),
    pytest.param("device_ended_at", "2001-01-01T10:00", id="end-before-start"),
    pytest.param("next_visit_on", "2001-01-01", id="next-visit-in-the-past"),
    pytest.param("next_visit_on", "31/12/2030", id="next-visit-junk"),
    pytest.param("companions", "人" * 201, id="companions-too-long"),
    pytest.param("notes", "记" * 2001, id="notes-too-long"),
])
def test_invalid_input_is_422_with_the_form_and_nothing_saved(client, world, officer, field, value):
    version = reload(world.h1).version
    resp = client.post(f"/households/{world.h1.id}/visits/new", data=visit_form(**{field: value}))
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert 'id="visit-form"' in body and 'class="error"' in body
    assert visits(world.h1.id) == [] and reload(world.h1).version == version
    assert reload(world.h1).file_status == "new"


def test_out_of_area_households_and_visits_are_404(app, client, world, officer):
    assert client.get(f"/households/{world.h4.id}/visits/new").status_code == 404
    assert client.post(f"/households/{world.h4.id}/visits/new", data=visit_form()).status_code == 404
    resp = client.post(f"/households/{world.h1.id}/visits/new", data=visit_form())
    other = app.test_client()
    login(other, world.officer2)
    assert other.get(resp.headers["Location"]).status_code == 404
    assert other.get(f"/households/{world.h1.id}/consent").status_code == 404
    auditor = app.test_client()
    login(auditor, world.auditor)
    assert auditor.get(resp.headers["Location"]).status_code == 200
    assert auditor.post(f"/households/{world.h1.id}/visits/new", data=visit_form()).status_code == 403


JUNK = st.one_of(st.none(), st.text(max_size=40), st.sampled_from(
    ["", " ", "0", "-1", "1e309", "nan", "inf", "9" * 30, "2024-02-30", "2024-13-01T10:00", "2024-01-01T25:61",
     "\x00", "<script>", "' OR 1=1 --", "%s%s%n", "１２", "done", "first", "2030-01-01", "2024-05-01T10:00"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.fixed_dictionaries({name: JUNK for name in (
    "purpose", "outcome", "companions", "notes", "device_started_at", "device_ended_at", "gps_lat", "gps_lng",
    "gps_accuracy_m", "next_visit_on", "opened_at", "offline_created")}))
def test_junk_in_the_visit_form_never_500s_and_never_writes_half(client, world, officer, junk):
    db.session.expire_all()
    before = len(visits(world.h1.id))
    version = db.session.get(Household, world.h1.id).version
    data = {k: v for k, v in junk.items() if v is not None}
    data["idem_key"] = new_key()
    resp = client.post(f"/households/{world.h1.id}/visits/new", data=data)
    assert resp.status_code in (303, 422), resp.status_code
    db.session.expire_all()
    after = len(visits(world.h1.id))
    if resp.status_code == 303:
        assert after == before + 1
        assert db.session.get(Household, world.h1.id).version == version + 1
    else:
        assert after == before and db.session.get(Household, world.h1.id).version == version


# ---------------------------------------------------------------- consents

def signature_png() -> bytes:
    """What the signature canvas posts: a transparent PNG with dark strokes."""
    img = Image.new("RGBA", (600, 240), (0, 0, 0, 0))
    for x in range(50, 550):
        img.putpixel((x, 120 + (x % 40) - 20), (10, 10, 10, 255))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def consent_form(**over) -> dict:
    data = {"kinds": ["collect", "credit_query", "notice", "contact"], "method": "signature",
            "idem_key": new_key(), "refusal_note": "", "member_id": "", "visit_id": ""}
    data.update(over)
    return data


def consents(household_id: int) -> list[Consent]:
    return list(db.session.scalars(sa.select(Consent).where(Consent.household_id == household_id)
                                   .order_by(Consent.id)))


def test_the_consent_page_shows_the_four_kinds_and_the_offline_form(client, world, officer):
    page = client.get(f"/households/{world.h1.id}/consent").get_data(as_text=True)
    for kind in ("collect", "credit_query", "notice", "contact"):
        assert f'data-consent="{kind}" data-state="missing"' in page
    form = re.search(r'<form id="consent-form"[^>]*>', page).group(0)
    assert "data-offline" in form and f'data-draft-key="h{world.h1.id}:consent"' in form
    assert 'enctype="multipart/form-data"' in form
    assert 'data-signature-pad="signature"' in page and 'name="signature"' in page and "<canvas" in page


def test_an_on_screen_signature_records_each_kind_with_the_signature_photo(client, world, officer):
    client.post(f"/households/{world.h1.id}/visits/new", data=visit_form())
    [visit] = visits(world.h1.id)
    head = next(m for m in world.h1.members if m.is_head)
    resp = client.post(f"/households/{world.h1.id}/consent", content_type="multipart/form-data", data=consent_form(
        member_id=str(head.id), visit_id=str(visit.id), signature=(io.BytesIO(signature_png()), "signature.png")))
    assert resp.status_code == 303, resp.get_data(as_text=True)[:800]
    rows = consents(world.h1.id)
    assert sorted(r.kind for r in rows) == ["collect", "contact", "credit_query", "notice"]
    photo = db.session.get(Photo, rows[0].photo_id)
    assert photo.kind == "signature" and photo.visit_id == visit.id and not photo.encrypted
    assert all(r.method == "signature" and r.photo_id == photo.id and r.member_id == head.id
               and r.visit_id == visit.id and r.recorded_by == officer.id for r in rows)
    # the transparent canvas is flattened onto white, not black
    image = Image.open(io.BytesIO(services.photo_bytes(photo))).convert("RGB")
    assert image.getpixel((5, 5))[0] > 240
    state = services.consent_state(world.h1.id)
    assert state.given == {"collect", "credit_query", "notice", "contact"} and state.refused == set()
    page = client.get(f"/households/{world.h1.id}/consent").get_data(as_text=True)
    assert page.count('data-state="given"') == 4 and f"/photos/{photo.id}" in page


def test_a_photo_of_the_signed_paper_works_without_javascript(client, world, officer):
    buf = io.BytesIO()
    Image.new("RGB", (1200, 1600), (250, 250, 245)).save(buf, "JPEG")
    resp = client.post(f"/households/{world.h1.id}/consent", content_type="multipart/form-data", data=consent_form(
        kinds=["collect", "credit_query"], method="paper", signature=(io.BytesIO(buf.getvalue()), "paper.jpg")))
    assert resp.status_code == 303
    assert {(r.kind, r.method) for r in consents(world.h1.id)} == {("collect", "paper"), ("credit_query", "paper")}


def test_a_refusal_needs_a_note_and_then_blocks_rating(client, world, officer):
    resp = client.post(f"/households/{world.h1.id}/consent", data=consent_form(method="refused"))
    assert resp.status_code == 422 and "what the household said" in resp.get_data(as_text=True)
    assert consents(world.h1.id) == []
    resp = client.post(f"/households/{world.h1.id}/consent",
                       data=consent_form(method="refused", kinds=["credit_query"], refusal_note="不同意查询征信"))
    assert resp.status_code == 303
    [row] = consents(world.h1.id)
    assert row.method == "refused" and row.refusal_note == "不同意查询征信" and row.photo_id is None
    state = services.consent_state(world.h1.id)
    assert state.refused == {"credit_query"} and state.given == set()
    page = client.get(f"/households/{world.h1.id}/consent").get_data(as_text=True)
    assert 'data-consent="credit_query" data-state="refused"' in page and "不同意查询征信" in page
    # a later signature supersedes the refusal (history is kept)
    client.post(f"/households/{world.h1.id}/consent", content_type="multipart/form-data", data=consent_form(
        kinds=["credit_query"], signature=(io.BytesIO(signature_png()), "signature.png")))
    assert services.consent_state(world.h1.id).given == {"credit_query"} and len(consents(world.h1.id)) == 2


@pytest.mark.parametrize(("over", "message"), [
    pytest.param({"kinds": []}, "Tick at least one consent.", id="no-kind"),
    pytest.param({"kinds": ["collect", "marketing"]}, "", id="unknown-kind"),
    pytest.param({"method": "telepathy"}, "", id="unknown-method"),
    pytest.param({}, "Sign on the screen, or take a photo", id="signature-missing"),
    pytest.param({"signature": (io.BytesIO(b"hello"), "sig.png")}, "This file is not a photo", id="not-a-picture"),
    pytest.param({"member_id": "999999"}, "", id="foreign-member"),
])
def test_bad_consent_input_is_422_and_records_nothing(app, client, world, officer, over, message):
    resp = client.post(f"/households/{world.h1.id}/consent", content_type="multipart/form-data",
                       data=consent_form(**over))
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)
    assert consents(world.h1.id) == [] and db.session.scalar(sa.select(sa.func.count()).select_from(Photo)) == 0


def test_consent_is_idempotent_per_key(client, world, officer):
    data = consent_form(method="refused", refusal_note="外出务工,电话拒绝")
    assert client.post(f"/households/{world.h1.id}/consent", data=data).status_code == 303
    assert client.post(f"/households/{world.h1.id}/consent", data=dict(data)).status_code == 303
    assert len(consents(world.h1.id)) == 4


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(junk=st.fixed_dictionaries({
    "kinds": st.lists(st.sampled_from(["collect", "credit_query", "notice", "contact", "", "x", "\x00"]), max_size=5),
    "method": JUNK, "refusal_note": JUNK, "member_id": JUNK, "visit_id": JUNK}),
    signature=st.one_of(st.none(), st.binary(max_size=300)))
def test_junk_in_the_consent_form_never_500s_and_never_writes_half(client, world, officer, junk, signature):
    db.session.expire_all()
    before = (len(consents(world.h1.id)), db.session.scalar(sa.select(sa.func.count()).select_from(Photo)))
    data = {k: v for k, v in junk.items() if v is not None}
    data["idem_key"] = new_key()
    if signature is not None:
        data["signature"] = (io.BytesIO(signature), "s.png")
    resp = client.post(f"/households/{world.h1.id}/consent", data=data, content_type="multipart/form-data")
    assert resp.status_code in (303, 422), resp.status_code
    db.session.expire_all()
    after = (len(consents(world.h1.id)), db.session.scalar(sa.select(sa.func.count()).select_from(Photo)))
    if resp.status_code == 422:
        assert after == before
    else:
        assert data["method"] == "refused" and after[0] > before[0] and after[1] == before[1]
