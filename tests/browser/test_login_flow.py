"""The issue's "Must show", driven in a phone-sized Chromium against the live app (real CSRF):
log in, see only my villages, switch language and back, a wrong password, log out, and an auditor who cannot write.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import fill_url, post_routes
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

CJK = re.compile(r"[\u3400-\u9fff]")


def login_via_form(page, username: str, password: str = PASSWORD):
    """Fill and send the real login form; returns the response of the navigation it causes."""
    page.goto("/login")
    page.fill("#login", username)
    page.fill("#password", password)
    with page.expect_navigation() as nav:
        page.click("#login-form button[type=submit]")
    return nav.value


def path_of(page) -> str:
    return urlsplit(page.url).path


def lang_cookie(ctx) -> str | None:
    return next((c["value"] for c in ctx.cookies() if c["name"] == "lang"), None)


def test_grid_officer_sees_only_their_grids_villages(new_context, world_ids):
    """A grid officer starts on the worklist (/worklist); it and /villages list only their grid's villages."""
    page = new_context().new_page()
    login_via_form(page, world_ids.officer.username)
    assert path_of(page) == "/worklist"
    for path, cards in (("/worklist", "#worklist-villages .card-link strong"),
                        ("/villages", "#village-rows .card-link strong")):
        if path_of(page) != path:
            page.goto(path)
        names = page.locator(cards).all_inner_texts()
        assert sorted(names) == sorted(["金星村", "龙门村"]), f"{path}: {names}"
        listing = page.locator("main").inner_text()
        for other in ("桃源村", "天马村", "乌兰嘎查"):
            assert other not in listing, f"{path} shows {other}, outside officer1's grid"


def test_switch_to_english_and_back_is_remembered(new_context, world_ids):
    ctx = new_context(world_ids.officer)
    page = ctx.new_page()
    page.goto("/villages")
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "zh-CN")

    with page.expect_navigation():
        page.locator("footer.foot a[lang=en]").click()
    expect(html).to_have_attribute("lang", "en")
    assert path_of(page) == "/villages", "the switch should bring me back to the page I was on"
    expect(page.locator("h1")).to_have_text("My villages")
    assert lang_cookie(ctx) == "en"
    page.reload()
    expect(html).to_have_attribute("lang", "en")

    with page.expect_navigation():
        page.locator("footer.foot a[lang=zh-CN]").click()
    expect(html).to_have_attribute("lang", "zh-CN")
    assert path_of(page) == "/villages"
    assert lang_cookie(ctx) == "zh_CN"
    page.reload()
    expect(html).to_have_attribute("lang", "zh-CN")


def test_wrong_password_gives_a_clear_message_in_chinese(new_context, world_ids):
    page = new_context().new_page()
    response = login_via_form(page, world_ids.officer2.username, "not-the-password-9")
    assert response.status == 422
    assert path_of(page) == "/login"
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    error = page.locator("#login-form .error")
    expect(error).to_be_visible()
    message = error.inner_text().strip()
    assert message
    assert CJK.search(message), (
        f"the login error on /login (#login-form .error) reads {message!r}: a zh-CN page shows it untranslated "
        f"(the zh_CN catalogue in fieldapp/translations lacks 'Wrong username or password.')")


# The log-out tests sign in someone no other test uses (the branch manager of 金华支行, who sees 金星村), so a
# log out that ends every session of its user could never break another test's cached login.
def test_log_out_from_the_bottom_nav(new_context, world_ids):
    page = new_context().new_page()
    login_via_form(page, world_ids.manager.username)
    assert path_of(page) == "/worklist"
    page.locator("nav.bottom-nav form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/login(\?.*)?$"))
    expect(page.locator("#login-form")).to_be_visible()
    expect(page.locator("nav.bottom-nav")).to_have_count(0)
    # really signed out: a staff page now asks for the login again
    page.goto("/villages")
    assert path_of(page) == "/login"


def test_back_button_after_log_out_shows_no_staff_page(new_context, world_ids):
    """A shared phone: after I log out, the next person pressing Back must not see my pages.

    Boosted navigation keeps snapshots of visited pages in the tab's sessionStorage ("htmx-history-cache");
    Back after logging out must not restore them.
    """
    page = new_context().new_page()
    login_via_form(page, world_ids.manager.username)
    page.locator("#worklist-villages .card-link", has_text="金星村").click()
    page.wait_for_url(f"**/worklist/villages/{world_ids.v1.id}")
    page.locator("nav.bottom-nav form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/login(\?.*)?$"))
    cached = page.evaluate("sessionStorage.getItem('htmx-history-cache') || ''")
    problems = []
    if world_ids.manager.name in cached:
        problems.append("after log out, sessionStorage 'htmx-history-cache' still holds the staff pages visited")
    page.go_back()
    # Back either restores a snapshot (the defect) or reloads from the server, which sends us to the login page.
    page.wait_for_load_state("load")
    page.wait_for_load_state("networkidle")
    body = page.locator("body").inner_text()
    if world_ids.manager.name in body or "金星村" in body:
        problems.append(f"Back after log out shows {page.url} with the signed-out user's page:\n{body[:200]!r}")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------- the auditor reads, never writes

# Submit controls an auditor may still use: GET forms (search, filter) and signing out.
ENABLED_SUBMITS_JS = r"""
() => {
  const out = [];
  for (const b of document.querySelectorAll('button, input[type=submit], input[type=image]')) {
    if (b.tagName === 'BUTTON' && b.type !== 'submit') continue;
    if (b.matches(':disabled') || !b.checkVisibility()) continue;
    const form = b.form;
    const method = (b.getAttribute('formmethod') || (form && form.getAttribute('method')) || 'get').toLowerCase();
    // getAttribute, not form.action: a field named "action" (the audit filter has one) shadows the property
    const action = b.getAttribute('formaction') || (form && form.getAttribute('action')) || '';
    out.push({text: (b.textContent || b.value || '').trim(), method,
              path: new URL(action || document.location.href, document.location.href).pathname});
  }
  const hx = [...document.querySelectorAll('[hx-post],[hx-put],[hx-patch],[hx-delete],' +
                                           '[data-hx-post],[data-hx-put],[data-hx-patch],[data-hx-delete]')]
    .map((e) => e.outerHTML.slice(0, 120));
  return {submits: out, hx};
}
"""


def test_auditor_pages_offer_no_write_form(new_context, world_ids):
    page = new_context(world_ids.auditor).new_page()
    problems = []
    for url in ("/villages", f"/villages/{world_ids.v1.id}", "/audit"):
        response = page.goto(url)
        assert response.status == 200, f"{url}: {response.status}"
        found = page.evaluate(ENABLED_SUBMITS_JS)
        for s in found["submits"]:
            if s["method"] == "get" or s["path"] == "/logout":
                continue
            problems.append(f"{url}: enabled submit {s['text']!r} posts to {s['path']}")
        problems += [f"{url}: htmx write control {h}" for h in found["hx"]]
    assert not problems, "\n".join(problems)


def test_auditor_post_with_valid_csrf_token_is_refused(new_context, world_ids):
    ctx = new_context(world_ids.auditor)
    page = ctx.new_page()
    page.goto("/villages")
    token = page.locator("nav.bottom-nav input[name=csrf_token]").get_attribute("value")
    assert token
    headers = {"X-CSRFToken": token}

    # control: the token is good (a wrong current password is a 422 form error, not a CSRF 400)
    resp = ctx.request.post("/account/password", headers=headers, max_redirects=0,
                            form={"csrf_token": token, "current": "wrong-one-1", "new": "another-pass-42",
                                  "confirm": "another-pass-42"})
    assert resp.status == 422, resp.status

    # every write route not open to any signed-in user: 403 for the auditor
    checked, problems = [], []
    for route in post_routes():
        if route.write in ("public", "any_user"):
            continue  # login, language, logout, own password: everyone's
        url = fill_url(route, world_ids)
        resp = ctx.request.post(url, headers=headers, max_redirects=0, form={
            "csrf_token": token, "idem_key": "auditor-probe-0001", "name": "x", "username": "probe1",
            "password": "probe-pass-123", "role": "auditor", "scope": "none", "version": "1"})
        checked.append(url)
        if resp.status != 403:
            problems.append(f"POST {url} ({route.endpoint}) as auditor: {resp.status}, expected 403")
    assert "/staff/new" in checked
    assert not problems, "\n".join(problems)
