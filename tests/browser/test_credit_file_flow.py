"""A grid officer fills a whole credit file through the real UI, in a phone-sized Chromium (issue 4, "Must show" 1).

Found by typed pinyin initials on the worklist search box (htmx results), then members (two valid ID numbers, one
with a wrong check digit refused in Chinese, nothing saved), then every section: five get a row through their add
form, three are marked "无" (debts only once the private-loan question is ticked, V-2). Back on the household page
the completeness meter reads 100 and no section is left "not filled yet".

Fields are found through their visible <label> (whatever the catalogue makes of the English msgid), so a field
that loses its label fails here. Every wait is an expect() bounded by the context's 10 s default.
"""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.support.world import make_id

from fieldapp.extensions import db
from tests.browser.helpers import in_db

pytestmark = pytest.mark.browser

HAN = re.compile(r"[\u4e00-\u9fff]")
GOOD_IDS = {"单小明": make_id("532931", "19900101", 71), "单小红": make_id("532931", "19900101", 72)}
BAD_ID = make_id("532931", "19900101", 73)
BAD_ID = BAD_ID[:17] + ("0" if BAD_ID[17] != "0" else "1")  # the check character is wrong

# Sections given one row through their add form: field name -> value (a select's option code, or typed text).
ROWS = {
    "land": {"land_type": "arable", "area_mu": "5.5", "tenure": "contracted", "certificate_no": "5329312024001"},
    "livestock": {"species": "cattle", "head_count": "4", "breeding_count": "2", "insured": True},
    "assets": {"asset_type": "house", "description": "砖混结构住房", "value": "15万"},
    "income": {"year": "2024", "income_source": "crops", "gross": "3万", "cost": "8000"},
    "expenses": {"year": "2024", "category": "living", "amount": "1.2万"},
}
NONE_SECTIONS = ("debts", "insurance", "negative")


def members_of(live_server, household_id: int) -> list[tuple[str, str | None]]:
    from fieldapp.households.models import Member
    return in_db(live_server, lambda: [(m.name, m.id_number) for m in db.session.scalars(
        sa.select(Member).where(Member.household_id == household_id).order_by(Member.id))])


def by_label(form, name: str):
    """The form's field `name`, found through its <label> (fails if the field has none)."""
    field_id = form.locator(f"[name={name}]").first.get_attribute("id")
    assert field_id, f"field {name} has no id, so no <label for> can name it"
    label = form.locator(f'label[for="{field_id}"]')
    expect(label).to_have_count(1)
    text = label.inner_text().strip()
    assert text, f"the label of {name} is empty"
    control = form.get_by_label(text, exact=True)
    expect(control).to_have_count(1)
    expect(control).to_have_attribute("name", name)
    return control


def fill(form, values: dict) -> None:
    for name, value in values.items():
        control = by_label(form, name)
        tag = control.evaluate("el => el.tagName.toLowerCase() + ':' + (el.type || '')")
        if tag.startswith("select"):
            control.select_option(value)
        elif tag == "input:checkbox":
            control.set_checked(bool(value))
        else:
            control.fill(value)


def section_errors(page) -> str:
    return " | ".join(page.locator("#section .error").all_inner_texts())


def test_officer_fills_a_whole_file_from_search_to_complete(watched_context, world_ids, live_server):
    hid = world_ids.h2.id
    page = watched_context(world_ids.officer).new_page()

    # ---- 1. the worklist's search box: pinyin initials find 单田芳 (htmx results), and open the household
    page.goto("/worklist")
    box = page.get_by_role("searchbox")
    expect(box).to_have_attribute("name", "q")
    box.press_sequentially("stf")
    hit = page.locator("#search-results a.card-link", has_text="单田芳")
    expect(hit).to_have_count(1)
    expect(page).to_have_url(re.compile(r"/households/search\?q=stf$"))  # hx-push-url: the search can be reloaded
    expect(page.locator("#search-results a.card-link")).to_have_count(1)  # 张三 and 曾国强 do not match
    hit.click()
    expect(page).to_have_url(re.compile(rf"/households/{hid}$"))
    expect(page.locator("#household h1")).to_have_text("单田芳")
    expect(page.locator("#completeness")).not_to_have_attribute("value", "100")
    expect(page.locator("#household a.card-link .tag.off")).not_to_have_count(0)  # sections still to fill

    # ---- 2. members: two with valid ID numbers, one with a wrong check digit (refused in Chinese, nothing saved)
    with page.expect_navigation(url=re.compile(rf"/households/{hid}/members$")):
        page.locator(f'#household a.button[href$="/households/{hid}/members"]').click()
    listed = page.locator("#member-list > ol.cards > li:not(.empty)")
    expect(listed).to_have_count(1)  # the head
    for name, number in GOOD_IDS.items():
        form = page.locator("#member-add-form")
        fill(form, {"name": name, "id_number": number, "relation": "child"})
        form.locator("button[type=submit]").click()
        expect(page.locator("#member-list")).to_contain_text(name)
        expect(page.locator("#member-add-form [name=name]")).to_have_value("")  # a fresh form for the next one
    expect(listed).to_have_count(3)
    # sex and birth date were read from the number
    expect(listed.filter(has_text="单小明")).to_contain_text("1990-01-01")

    form = page.locator("#member-add-form")
    fill(form, {"name": "单小刚", "id_number": BAD_ID, "relation": "child"})
    form.locator("button[type=submit]").click()
    error = page.locator("#member-add-form .field.has-error .error")
    expect(error).to_have_count(1)
    expect(error).to_contain_text("校验")
    assert HAN.search(error.inner_text()), f"the ID error is not in Chinese: {error.inner_text()!r}"
    expect(page.locator("#member-add-form [name=id_number]")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#member-add-form [name=id_number]")).to_have_value(BAD_ID)  # the input is kept
    expect(listed).to_have_count(3)
    saved = members_of(live_server, hid)
    assert [n for n, _ in saved] == ["单田芳", "单小明", "单小红"], saved
    assert {n: i for n, i in saved if n in GOOD_IDS} == GOOD_IDS
    assert BAD_ID not in {i for _, i in saved}

    # ---- 3. every section: five get a row through their add form...
    for name, values in ROWS.items():
        page.goto(f"/households/{hid}/section/{name}")
        expect(page.locator("#section-rows > li:not(.empty)")).to_have_count(0)
        form = page.locator("#section-add-form")
        fill(form, values)
        form.locator("button[type=submit]").click()
        rows = page.locator("#section-rows > li:not(.empty)")
        try:
            expect(rows).to_have_count(1)
        except AssertionError:
            raise AssertionError(f"section {name}: the row was not added; errors: {section_errors(page)}") from None
        expect(page.locator("#section p.flash")).to_be_visible()
        expect(page.locator("#section-none-form")).to_have_count(0)  # a filled section cannot be "无"

    # ...and three are marked "无"; debts only once the private-loan question was asked (V-2)
    page.goto(f"/households/{hid}/section/debts")
    none_form = page.locator("#section-none-form")
    none_form.locator("button[type=submit]").click()
    expect(page.locator("#section-none-form .error")).to_be_visible()
    expect(page.locator("#section-none-form input[name=undo]")).to_have_count(0)  # not marked
    by_label(page.locator("#section-none-form"), "asked_private").check()
    page.locator("#section-none-form button[type=submit]").click()
    expect(page.locator("#section-none-form input[name=undo]")).to_have_count(1)
    for name in ("insurance", "negative"):
        page.goto(f"/households/{hid}/section/{name}")
        expect(page.locator("#section-none-form input[name=undo]")).to_have_count(0)
        page.locator("#section-none-form button[type=submit]").click()
        try:
            expect(page.locator("#section-none-form input[name=undo]")).to_have_count(1)
        except AssertionError:
            raise AssertionError(f"section {name}: not marked none; errors: {section_errors(page)}") from None
        expect(page.locator("#section-rows > li.empty")).to_be_visible()

    # ---- 4. the household page: every section filled or "无", the meter at 100
    with page.expect_navigation(url=re.compile(rf"/households/{hid}$")):
        page.locator("a.back").first.click()
    expect(page.locator("#completeness")).to_have_attribute("value", "100")
    cards = page.locator(f'#household a.card-link[href*="/households/{hid}/"]:not([href$="/rating"]):not([href$="/certificate"])')
    expect(cards).to_have_count(9)  # members + the eight sections (the rating and certificate cards are not sections)
    expect(page.locator("#household a.card-link .tag.off")).to_have_count(0)  # none "not filled yet"

    from fieldapp.households.models import Household
    declared = in_db(live_server, lambda: sorted(db.session.get(Household, hid).declared_none or []))
    assert declared == sorted(NONE_SECTIONS)
