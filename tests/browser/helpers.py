"""Shared by the browser tests: how Chromium is started, the world as plain values, route discovery, page checks."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"


# ---------------------------------------------------------------- the world, detached from the database

def snapshot_world(w, *, job) -> SimpleNamespace:
    """Ids, names and usernames of the committed world, usable after its session is gone."""
    snap = SimpleNamespace()
    for key, value in vars(w).items():
        if hasattr(value, "__table__") and hasattr(value, "id"):
            setattr(snap, key, SimpleNamespace(id=value.id, name=getattr(value, "name", None),
                                               username=getattr(value, "username", None)))
    snap.roles = {code: user.username for code, user in w.roles.items()}
    snap.job = SimpleNamespace(id=job.id)
    snap.officer_grant_id = w.officer.roles[0].id
    snap.v1_group_id = sorted(g.id for g in w.v1.groups)[0]
    import sqlalchemy as sa
    from fieldapp.extensions import db
    from fieldapp.org.models import Assignment, GridArea
    snap.g1_area_id = db.session.scalar(sa.select(GridArea.id).where(GridArea.grid_id == w.g1.id,
                                                                     GridArea.village_id == w.v1.id))
    snap.g1_assignment_id = db.session.scalar(sa.select(Assignment.id).where(Assignment.grid_id == w.g1.id,
                                                                             Assignment.user_id == w.officer.id))
    snap.h1_member_id = sorted(w.h1.members, key=lambda m: (m.relation != "head", m.id))[0].id
    from tests.support.ratings import sweep_meeting
    snap.meeting_id, snap.meeting_item_id = sweep_meeting(w)  # a voting review meeting of 金星村 (commits)
    from fieldapp.ratings import services as rating_services
    from fieldapp.ratings.models import BonusRecommendation, ReviewItem
    snap.rating_id = db.session.get(ReviewItem, snap.meeting_item_id).rating_id
    snap.model_id = rating_services.current_model().id
    bonus = BonusRecommendation(county_id=w.h1.county_id, village_id=w.h1.village_id, group_id=w.h1.group_id,
                                household_id=w.h1.id, kind="red_credit_demo", recommender="金星村党支部")
    db.session.add(bonus)
    db.session.commit()
    snap.bonus_id = bonus.id
    snap.notice_id, snap.notice_token, snap.objection_id, snap.private_id = sweep_notice(w)
    from tests.support.routes_verify import sweep_certificate
    snap.cert_id, snap.cert_token = sweep_certificate(w)  # a valid certificate of 金星村 and its QR token (commits)
    return snap


def sweep_notice(w) -> tuple[int, str, int, int]:
    """An open notice of 金星村 (two new listed households; a vetoed one gets a private letter) with a named
    objection, through the real services. Commits; returns (notice id, its public token, objection id, private
    notice id)."""
    import sqlalchemy as sa
    from fieldapp.extensions import db
    from fieldapp.notices import objections
    from fieldapp.notices.models import PrivateNotice
    from tests.support.routes_notices import (VETO_FILE, approved_rating, draft, listed_household, new_household,
                                              open_now)
    listed_household(w, w.v1, head="王小明")
    listed_household(w, w.v1, head="欧阳春花", group=1)
    approved_rating(w, new_household(w.v1, head="钱否决"), **VETO_FILE)
    notice = open_now(w, draft(w, w.v1))
    objection = objections.file_objection(notice, notice.items[0], name="李举报", phone="13812345678",
                                          relation="neighbour", grounds="hidden_debt", text="他家有民间借款没有报")
    db.session.commit()
    private_id = db.session.scalar(sa.select(PrivateNotice.id).where(PrivateNotice.notice_id == notice.id))
    return notice.id, notice.public_token, objection.id, private_id


# ---------------------------------------------------------------- route discovery

# URL parameter name -> its value in the world. A route with a parameter not listed here fails the sweep
# (with the route named), so every new route forces a decision about what to show.
# Everything is in county A (剑川县), which hq (hq_admin) administers and officer1 works in.
PARAMS = {
    "county_id": lambda w: w.county.id,              # 剑川县
    "township_id": lambda w: w.t1.id,                # 金华镇
    "village_id": lambda w: w.v1.id,                 # 金星村: in officer1's grid G01
    "group_id": lambda w: w.v1_group_id,             # a village group of 金星村
    "branch_id": lambda w: w.b1.id,                  # 金华支行
    "grid_id": lambda w: w.g1.id,                    # G01 金华一网格
    "area_id": lambda w: w.g1_area_id,               # G01 covers 金星村 (nested under grid_id)
    "assignment_id": lambda w: w.g1_assignment_id,   # officer1 owns G01 (nested under grid_id)
    "user_id": lambda w: w.officer.id,               # a grid officer: managed by hq
    "grant_id": lambda w: w.officer_grant_id,        # officer1's grid_officer grant (nested under user_id)
    "job_id": lambda w: w.job.id,                    # a finished job created by sysadmin (see conftest)
    "household_id": lambda w: w.h1.id,               # 张三's household in 金星村 一组 (officer1's grid)
    "member_id": lambda w: w.h1_member_id,           # 张三, head of h1 (nested under household_id)
    "name": lambda w: "debts",                       # the richest section form: debts (rates, caps, flags)
    "row_id": lambda w: w.debt1.id,                  # a private loan of h1 (nested under household_id + name)
    "visit_id": lambda w: w.visit1.id,               # officer1's first visit to h1 (see conftest)
    "photo_id": lambda w: w.photo1.id,               # a house photo of h1, stored by the real pipeline
    "rate_id": lambda w: w.lpr1.id,                  # a dated LPR row (POST only: remove)
    # the open notice's public address /n/<token>; also the import commit's upload token (POST only: refused
    # before the token is read in the sweeps that post)
    "token": lambda w: w.notice_token,
    "meeting_id": lambda w: w.meeting_id,            # a voting review meeting of 金星村, secretary1 chairs and votes
    "item_id": lambda w: w.meeting_item_id,          # its household (nested under meeting_id)
    "rating_id": lambda w: w.rating_id,              # that household's proposed rating (the "why" page)
    "model_id": lambda w: w.model_id,                # the scoring model in force (version 1)
    "bonus_id": lambda w: w.bonus_id,                # a red-credit recommendation of h1 (POST only: withdraw)
    "notice_id": lambda w: w.notice_id,              # an open notice of 金星村 (two households, one objection)
    "objection_id": lambda w: w.objection_id,        # a named objection on it, received
    "private_id": lambda w: w.private_id,            # its private letter to a vetoed household (nested)
    "cert_token": lambda w: w.cert_token,            # a valid certificate's QR token (/V/<cert_token>)
    "cert_id": lambda w: w.cert_id,                  # that certificate (valid, of a household in 金星村)
}

# GET endpoints that are not pages a person looks at; `test_every_get_route_is_swept_or_listed` keeps this honest.
NOT_PAGES = {
    "core.healthz": "JSON health probe for load balancers",
    "accounts.set_language": "an action: sets the lang cookie and redirects (test_login_flow covers it)",
    "accounts.staff_role_scopes": "an htmx fragment swapped into the staff edit page (seen there)",
    "households.import_template": "an .xlsx download, not a page",
    "households.import_report": "a CSV download behind an import token, not a page",
    "visits.photo": "a JPEG (shown inside the household and visit pages, which the sweep checks), not a page",
    "visits.photo_thumb": "a JPEG thumbnail (the <img> of the household and visit pages), not a page",
    "ratings.meeting_sheet": "the blank review sheet, a PDF (tests/web/test_meetings.py checks it), not a page",
    "ratings.why_print": "the rating explanation as a PDF (tests/web/test_rating_approval.py checks it), not a page",
    "notices.sheet_pdf": "the notice sheet as a PDF (tests/web/test_notices.py checks it), not a page",
    "notices.sheet": "the sheet's A4 print view in print sizes, not a phone page (tests/web/test_notices.py checks it)",
    "notices.posting_photo": "the posting photo, a JPEG (shown on the notice page, which the sweep checks)",
    "notices.private_letter": "a private notice letter as a PDF (tests/web/test_notices.py checks it), not a page",
    "notices.objection_reply_letter": "the reply letter as a PDF (tests/web/test_objections.py checks it), not a page",
    "certificates.card_pdf": "a certificate's card as a PDF (tests/web/test_certificates.py checks it), not a page",
    "certificates.village_cards_pdf": "a village's cards on A4 sheets, a PDF (tests/browser/test_certificate_cards.py"
                                      " scans it), not a page",
}

# Who visits a page: the first of these roles the page's read policy allows.
ROLE_PREFERENCE = ("grid_officer", "hq_admin", "sysadmin", "auditor", "branch_manager", "village_secretary",
                   "panel_member", "mediator")


@dataclass(frozen=True)
class Route:
    rule: str
    endpoint: str
    methods: frozenset
    params: tuple
    read: object   # the access policy's read side: "public", "any_user" or a frozenset of roles
    write: object

    @property
    def id(self) -> str:
        return self.rule


@lru_cache(maxsize=1)
def _routes_app():
    """An app built only to read its URL map and view policies (never connects to its database)."""
    from tests.conftest import make_app
    return make_app("sqlite://", Path(tempfile.gettempdir()), WTF_CSRF_ENABLED=True)


def all_routes() -> list[Route]:
    app = _routes_app()
    out = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if rule.endpoint == "static" or rule.endpoint.endswith(".static") or rule.rule.startswith("/_test"):
            continue
        pol = getattr(app.view_functions[rule.endpoint], "_access_policy", None)
        out.append(Route(rule.rule, rule.endpoint, frozenset(rule.methods or ()), tuple(sorted(rule.arguments)),
                         pol.read if pol else None, pol.write if pol else None))
    return out


def get_pages() -> list[Route]:
    """Every GET route that renders a page (not listed in NOT_PAGES)."""
    return [r for r in all_routes() if "GET" in r.methods and r.endpoint not in NOT_PAGES]


def post_routes() -> list[Route]:
    return [r for r in all_routes() if "POST" in r.methods]


def fill_url(route: Route, world) -> str:
    """The route's URL with parameters from the world; fails naming the route for an unknown parameter."""
    import pytest
    from werkzeug.routing import Map, Rule
    values = {}
    for name in route.params:
        if name not in PARAMS:
            pytest.fail(f"route {route.rule} ({route.endpoint}) has URL parameter <{name}> that the browser sweep "
                        f"does not know: add it to PARAMS in tests/browser/helpers.py", pytrace=False)
        values[name] = PARAMS[name](world)
    adapter = Map([Rule(route.rule, endpoint=route.endpoint)]).bind("localhost")
    return adapter.build(route.endpoint, values)


def role_for(route: Route) -> str | None:
    """None for public pages (visited logged out), else the role that visits the page."""
    if route.read is None:
        return "sysadmin"  # no policy: the app refuses it; the sweep reports the 403
    if route.read == "public":
        return None
    if route.read == "any_user":
        return "sysadmin"  # not a data role, so "/" renders the start page instead of redirecting
    for role in ROLE_PREFERENCE:
        if role in route.read:
            return role
    raise AssertionError(f"route {route.rule}: no known role may read it ({route.read})")


# ---------------------------------------------------------------- page checks (run in the page)

RECORD_CSP_JS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} ` +
                              `at ${e.sourceFile || document.location.pathname}:${e.lineNumber}`);
});
"""

# Our rules, stricter than WCAG's 24 px minimum (field staff tap with gloves, in sunlight):
# * Text: p, li, label, input, td, dd compute to >= 18 px; small print (an element with class "tag" or "muted",
#   or inside one) may be >= 16 px; .tag/.muted elements themselves must be >= 16 px.
# * Targets: every visible a, button, input (not hidden), select, summary, textarea is >= 48 x 48 CSS px
#   (0.5 px tolerance for sub-pixel layout). Exemptions, and only these:
#   - a link inside running text: an <a> whose nearest <p>/<li> ancestor has text besides the link's own
#     (a link that is the sole content of its paragraph or list item is a target and must be 48 px);
#   - a checkbox/radio is measured together with its <label>s (tapping the label toggles it), as one union box;
#   - an element off-screen until focused (a skip link) is measured while focused; if still off-screen, skipped.
PAGE_FACTS_JS = r"""
() => {
  const norm = (s) => (s || '').replace(/\s+/g, ' ').trim();
  const visible = (el) => el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true}) &&
                          el.getClientRects().length > 0;
  const describe = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    if (el.classList.length) s += '.' + [...el.classList].join('.');
    if (el.type && el.tagName === 'INPUT') s += `[type=${el.type}]`;
    const text = norm(el.textContent || el.value || el.getAttribute('aria-label') || el.name || '');
    if (text) s += ` "${text.slice(0, 40)}"`;
    return s;
  };
  const offscreen = (r) => r.right <= 0 || r.bottom <= 0 || r.left >= document.documentElement.scrollWidth;
  const facts = {
    lang: document.documentElement.getAttribute('lang') || '',
    title: norm(document.title),
    h1: [...document.querySelectorAll('h1')].filter(visible).map((e) => norm(e.textContent)),
    smallText: [], smallTargets: [],
  };
  for (const el of document.querySelectorAll('p, li, label, input:not([type=hidden]), td, dd, .tag, .muted')) {
    if (!visible(el)) continue;
    const size = parseFloat(getComputedStyle(el).fontSize);
    const min = el.closest('.tag, .muted') ? 16 : 18;
    if (size < min) facts.smallText.push(`${describe(el)}: ${size}px < ${min}px`);
  }
  const sel = 'a, button, input:not([type=hidden]), select, summary, textarea';
  for (const el of document.querySelectorAll(sel)) {
    if (!visible(el)) continue;
    if (el.tagName === 'A') {
      const block = el.parentElement && el.parentElement.closest('p, li');
      if (block && norm(block.textContent) !== norm(el.textContent)) continue;  // inline link in running text
    }
    let r = el.getBoundingClientRect();
    if (offscreen(r)) {
      el.focus();
      r = el.getBoundingClientRect();
      el.blur();
      if (offscreen(r)) continue;
    }
    let box = {left: r.left, top: r.top, right: r.right, bottom: r.bottom};
    if (el.tagName === 'INPUT' && (el.type === 'checkbox' || el.type === 'radio') && el.labels) {
      for (const label of el.labels) {
        const lr = label.getBoundingClientRect();
        box = {left: Math.min(box.left, lr.left), top: Math.min(box.top, lr.top),
               right: Math.max(box.right, lr.right), bottom: Math.max(box.bottom, lr.bottom)};
      }
    }
    const w = box.right - box.left, h = box.bottom - box.top;
    if (w < 47.5 || h < 47.5) facts.smallTargets.push(`${describe(el)}: ${w.toFixed(1)}x${h.toFixed(1)}px`);
  }
  return facts;
}
"""

AXE_RUN_JS = """
async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 6).map((n) => n.target.join(' ') + ' -- ' + (n.failureSummary || '').replace(/\\s+/g, ' ')),
  }));
}
"""


@lru_cache(maxsize=1)
def axe_source() -> str:
    if not AXE_JS.exists():
        raise AssertionError(f"{AXE_JS} is missing: run `npm install --no-save --no-audit --no-fund axe-core@4.10.3`")
    return AXE_JS.read_text()


def run_axe(page) -> list[dict]:
    """Serious and critical axe-core violations (the page's context must bypass CSP to inject axe)."""
    page.add_script_tag(content=axe_source())
    return page.evaluate(AXE_RUN_JS)


def format_axe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"  [{v['impact']}] {v['id']}: {v['help']}")
        lines.extend(f"      {n}" for n in v["nodes"])
    return "\n".join(lines)


def watch_contexts(new_context):
    """Wrap the conftest context factory so any script error or CSP violation on an opened page is collected.

    Returns (make, problems): use `make` like `new_context`, and assert `problems` is empty at the end.
    """
    problems: list[str] = []

    def watch(page):
        page.on("pageerror", lambda e: problems.append(f"script error on {page.url}: {e}"))
        page.on("console", lambda m: problems.append(f"{page.url}: {m.text}")
                if "Content Security Policy" in m.text else None)

    def make(*args, **kwargs):
        ctx = new_context(*args, **kwargs)
        ctx.on("page", watch)
        return ctx

    return make, problems


def in_db(live_server, fn):
    """Run fn() against the live server's database (its own session, closed afterwards)."""
    from fieldapp.extensions import db
    with live_server.app.app_context():
        try:
            return fn()
        finally:
            db.session.remove()
