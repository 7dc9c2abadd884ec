"""Every page, in a phone-sized Chromium: loads, obeys the CSP, passes axe-core, has readable text and big targets.

Pages are discovered from the app's URL map (see helpers.get_pages); each is visited by a role its policy allows
(helpers.role_for: officer for village pages, hq_admin for admin and audit pages, sysadmin for pages any user
sees, nobody for public pages). Each page is checked twice: in a normal context (status, CSP violations, script
errors, text size, tap targets, lang/title/h1) and in a CSP-bypassing context where axe-core is injected.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from tests.browser.helpers import (NOT_PAGES, PAGE_FACTS_JS, RECORD_CSP_JS, Route, all_routes, fill_url,
                                   format_axe, get_pages, role_for, run_axe)

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Target:
    id: str
    route: Route | None
    role: str | None
    status: int = 200
    path: str | None = None  # fixed path for targets that are not routes


TARGETS = [Target(r.id, r, role_for(r)) for r in get_pages()] + [
    # not a route, but a page people do see: the error page, in the staff layout
    Target("404 page", None, "grid_officer", status=404, path="/no-such-page"),
]


@pytest.mark.parametrize("target", TARGETS, ids=[t.id for t in TARGETS])
def test_page(target: Target, new_context, live_server):
    world = live_server.world
    url = target.path or fill_url(target.route, world)
    user = world.roles[target.role] if target.role else None
    who = f"as {target.role} ({user})" if user else "logged out"
    problems: list[str] = []

    # 1. a normal context: the CSP is enforced as in production
    page = new_context(user).new_page()
    page.add_init_script(RECORD_CSP_JS)
    csp, js_errors = [], []
    page.on("console", lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: js_errors.append(str(e)))
    broken = []  # stylesheets, scripts, images the page asks for and does not get
    page.on("response", lambda r: broken.append(f"{r.status} {r.url}")
            if r.status >= 400 and r.request.resource_type != "document" else None)
    response = page.goto(url, wait_until="load")
    if response is None or response.status != target.status:
        problems.append(f"status {response.status if response else None}, expected {target.status}")
    if urlsplit(page.url).path != urlsplit(url).path:
        problems.append(f"redirected to {page.url}")
    facts = page.evaluate(PAGE_FACTS_JS)
    csp += page.evaluate("window.__cspViolations || []")
    if csp:
        problems.append("CSP violations:\n" + "\n".join(f"  {c}" for c in dict.fromkeys(csp)))
    if broken:
        problems.append("failed subresources:\n" + "\n".join(f"  {b}" for b in broken))
    if js_errors:
        problems.append("script errors:\n" + "\n".join(f"  {e}" for e in js_errors))
    if not facts["lang"]:
        problems.append("<html> has no lang")
    if not facts["title"]:
        problems.append("no <title>")
    if not facts["h1"]:
        problems.append("no visible <h1>")
    if facts["smallText"]:
        problems.append("text below the minimum size:\n" + "\n".join(f"  {s}" for s in facts["smallText"]))
    if facts["smallTargets"]:
        problems.append("tap targets below 48x48 px:\n" + "\n".join(f"  {s}" for s in facts["smallTargets"]))

    # 2. axe-core needs an injected script, which the CSP (rightly) blocks: a context that bypasses it
    axe_page = new_context(user, bypass_csp=True).new_page()
    axe_page.goto(url, wait_until="load")
    violations = run_axe(axe_page)
    if violations:
        problems.append("axe-core serious/critical violations:\n" + format_axe(violations))

    assert not problems, f"{url} {who}:\n" + "\n".join(problems)


def test_every_get_route_is_swept_or_listed():
    """NOT_PAGES names only GET routes that exist; every other GET route is a sweep target above."""
    get_endpoints = {r.endpoint for r in all_routes() if "GET" in r.methods}
    stale = sorted(set(NOT_PAGES) - get_endpoints)
    assert not stale, f"NOT_PAGES in tests/browser/helpers.py lists endpoints that no longer exist: {stale}"
    swept = {t.route.endpoint for t in TARGETS if t.route}
    assert get_endpoints == swept | set(NOT_PAGES)
