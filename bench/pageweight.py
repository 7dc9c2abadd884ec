"""Page weight: what each page costs a phone, in compressed bytes as sent, measured in Debian's Chromium.

Pages are discovered from the app's URL map like the browser sweep (tests/browser/test_sweep.py): every GET route
except the few in NOT_PAGES, so a new page gets a row without touching this file. Each is visited by a role its
read policy allows (ROLE_PREFERENCE; the demo login of that role, logged in through the real login form; public
pages logged out). URL ids come from the database (PARAMS, else the table the parameter's name points at), and
the first candidate that the visitor can open (HTTP 200) is used; a page that can't be filled prints a row that
says why.

For each page, in a "Galaxy S8" context set to zh-CN:
* cold: a fresh browser context (empty cache) loads the page; the bytes are the sum of CDP
  `Network.loadingFinished.encodedDataLength` (compressed body plus headers) over every request that went to the
  server, whatever it triggered after `load` included;
* warm: the same context navigates to the page a second time (via about:blank), with its cache primed;
* fragment: the same URL requested with `HX-Request: true` and `Accept-Encoding: br, gzip` straight over HTTP:
  compressed body plus headers. A route whose htmx answer is the full page has no fragment.
* 3G cold and 3G warm: those two loads' ready time (ms from navigation start until `load` and the last response
  since, htmx's load-triggered requests included; Navigation and Resource Timing) with the page's connection
  emulated as 3G by CDP Network.emulateNetworkConditions (400 ms RTT, 400 kbit/s each way): every page in the full
  run, the key pages of G3_QUICK in bench-quick (the others say "3G: full run only"; the JSON keeps their
  unthrottled ready times).
The ids each URL parameter can take are looked up once per run, and the probe that found a page's URL is its plain
answer, so a page costs two browser loads and one or two plain requests.
Chromium offers br and zstd to 127.0.0.1 as it does to an HTTPS origin (a phone on plain HTTP over the LAN may
be offered only gzip); the enc column lists the encodings that came back, the document's first. The JSON keeps
each load's requests (path, bytes, encoding, status).
"""
from __future__ import annotations

import http.client
import itertools
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from . import BUDGET_S, Bench, Column, Row, echo, kb, plain, producer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DEVICE = "Galaxy S8"
LOCALE = "zh-CN"
KB = 1024

# Targets (bytes), printed beside the numbers. Cold targets exist for forms and the public verify page; every
# warm navigation and every fragment has the 14 KB one (about what fits in TCP's first round trip).
COLD_TARGET = {"form": 40 * KB, "verify": 6 * KB}
WARM_TARGET = 14 * KB
FRAGMENT_TARGET = 14 * KB

# GET endpoints that are not pages; each still prints a row saying so.
NOT_PAGES = {
    "core.healthz": "not a page: JSON health probe",
    "accounts.set_language": "not a page: an action (sets the language cookie, redirects back)",
}

# Who visits a page: the first of these roles the page's read policy allows (as the browser sweep does).
ROLE_PREFERENCE = ("grid_officer", "hq_admin", "sysadmin", "auditor", "branch_manager", "village_secretary",
                   "panel_member", "mediator")
ANY_USER_ROLE = "sysadmin"   # "/" shows a data role their villages; the start page is the sysadmin's
PROBE_LIMIT = 8              # candidate id combinations tried over HTTP before a page is "can't fill"
# After `load`, the network must be idle this long (htmx's load-triggered requests start before `load`, so they
# are already in flight): the quick run waits less to fit its 3 minutes.
QUIET_S = {"quick": 0.1, "full": 0.15}
SETTLE_LIMIT_S = 3.0
# Ready time on a slow phone network: CDP Network.emulateNetworkConditions with 400 ms round trips and 400 kbit/s
# each way (in bytes per second), cold and warm. The full run loads every page so; bench-quick only the key pages
# of G3_QUICK (by rule), and its other rows say "3G: full run only". The byte counts come from the same loads (a
# throttled load sends the same bytes).
G3 = {"offline": False, "latency": 400, "downloadThroughput": 400_000 / 8, "uploadThroughput": 400_000 / 8}
G3_QUICK = ("/login", "/worklist", "/households/search", "/households/<int:household_id>",
            "/households/<int:household_id>/visits/new", "/n/<token>", "/V/<path:cert_token>")
G3_SETTLE_LIMIT_S = 20.0
# ms from navigation start (the page's time origin) until `load` and the end of the last response since (htmx's
# load-triggered requests included), from the Navigation and Resource Timing entries.
READY_JS = """() => { const nav = performance.getEntriesByType('navigation')[0];
  const ends = performance.getEntriesByType('resource').map((e) => e.responseEnd);
  return Math.max(nav ? nav.loadEventEnd : 0, ...ends); }"""
# Requests the browser makes for itself, not for the page, and only sometimes (once per profile): left out so the
# numbers are the page's. (The app has no favicon, so a phone's first visit also gets a 404 page for it.)
BROWSER_OWN = {"/favicon.ico"}

COLUMNS = [
    Column("as", "as", plain),
    Column("kind", "kind", plain),
    Column("cold_bytes", "cold KB", kb),
    Column("cold_requests", "req", plain),
    Column("warm_bytes", "warm KB", kb),
    Column("warm_requests", "req", plain),
    Column("fragment_bytes", "frag KB", kb),
    Column("encoding", "enc", plain),
    Column("g3_cold_ms", "3G cold ms", lambda v: "" if v is None else f"{v:.0f}"),
    Column("g3_warm_ms", "3G warm ms", lambda v: "" if v is None else f"{v:.0f}"),
]


# ---------------------------------------------------------------- routes

@dataclass(frozen=True)
class Route:
    rule: str
    endpoint: str
    params: tuple[str, ...]
    read: Any          # "public", "any_user", a frozenset of role codes, or None (no policy)

    @property
    def label(self) -> str:
        """The rule without converters: /villages/<village_id>."""
        import re
        return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"<\1>", self.rule)


def get_routes(app) -> list[Route]:
    """Every GET route of the app except static files and test hooks, sorted by rule."""
    out = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if rule.endpoint == "static" or rule.endpoint.endswith(".static") or rule.rule.startswith("/_test"):
            continue
        if "GET" not in (rule.methods or ()):
            continue
        pol = getattr(app.view_functions[rule.endpoint], "_access_policy", None)
        read = pol.read if pol else None
        if rule.endpoint == "households.section" and "name" in rule.arguments:
            # one row per credit-file section: each is its own screen on the phone
            from fieldapp.households.rules import SECTION_ORDER
            for section in SECTION_ORDER:
                if section == "members":
                    continue  # the members screen has its own route
                fixed = re.sub(r"<(?:[^:<>]+:)?name>", section, rule.rule)
                out.append(Route(fixed, rule.endpoint, tuple(a for a in sorted(rule.arguments) if a != "name"), read))
            continue
        out.append(Route(rule.rule, rule.endpoint, tuple(sorted(rule.arguments)), read))
    return out


# Pages only a committee member can open: the demo's mid-review meeting (石桥村) seats panel1, who has not voted yet.
ROLE_FOR_ENDPOINT = {"ratings.meeting_vote": "panel_member", "ratings.meeting_ballot": "panel_member"}


def role_for(route: Route) -> str | None:
    """None for a public page (visited logged out), else the role that visits it."""
    if route.endpoint in ROLE_FOR_ENDPOINT:
        return ROLE_FOR_ENDPOINT[route.endpoint]
    if route.read == "public":
        return None
    if route.read is None or route.read == "any_user":
        return ANY_USER_ROLE
    for role in ROLE_PREFERENCE:
        if role in route.read:
            return role
    return sorted(route.read)[0] if route.read else ANY_USER_ROLE


# ---------------------------------------------------------------- ids from the database

def _officer_villages(bench: Bench) -> list[int]:
    """The villages of the demo grid officer's grids (officer1), by id."""
    import sqlalchemy as sa
    from fieldapp.accounts.models import User
    from fieldapp.core import access
    from fieldapp.extensions import db
    username = bench.server.logins.get("grid_officer")
    user = db.session.scalar(sa.select(User).where(User.username == username)) if username else None
    if user is None:
        return []
    area = access.area_for(user)
    return sorted(area.village_ids | area.partial_village_ids)


def _village_ids(bench: Bench, limit: int) -> list[int]:
    import sqlalchemy as sa
    from fieldapp.extensions import db
    from fieldapp.org.models import Village
    first = _officer_villages(bench)
    rest = db.session.scalars(sa.select(Village.id).order_by(Village.id).limit(limit)).all()
    return list(dict.fromkeys([*first, *rest]))


def _user_ids(bench: Bench, limit: int) -> list[int]:
    import sqlalchemy as sa
    from fieldapp.accounts.models import User
    from fieldapp.extensions import db
    username = bench.server.logins.get("grid_officer")
    first = db.session.scalars(sa.select(User.id).where(User.username == username)).all() if username else []
    rest = db.session.scalars(sa.select(User.id).order_by(User.id).limit(limit)).all()
    return list(dict.fromkeys([*first, *rest]))


def _item_ids(bench: Bench, limit: int) -> list[int]:
    """Review items of the first meeting (the demo's mid-review one, where panel1 has not voted yet)."""
    import sqlalchemy as sa
    from fieldapp.extensions import db
    from fieldapp.ratings.models import ReviewItem
    first = db.session.scalar(sa.select(sa.func.min(ReviewItem.meeting_id)))
    return db.session.scalars(sa.select(ReviewItem.id).where(ReviewItem.meeting_id == first)
                              .order_by(ReviewItem.id).limit(limit)).all()


def _notice_tokens(bench: Bench, limit: int) -> list[str]:
    """Public addresses of notices: the demo's open notice first, then the other public ones (the QR's /n/<token>)."""
    import sqlalchemy as sa
    from fieldapp.extensions import db
    from fieldapp.notices.models import Notice
    rows = db.session.execute(sa.select(Notice.public_token, Notice.status, Notice.supplement)
                              .where(Notice.status.in_(("open", "closed", "finalised"))).order_by(Notice.id)).all()
    ranked = sorted(rows, key=lambda r: (r.status != "open", bool(r.supplement)))
    return [r.public_token for r in ranked][:limit]


def _private_ids(bench: Bench, limit: int) -> list[int]:
    """Private notice letters (N-5) of the first notice that has any (the letter's URL nests it under its notice)."""
    import sqlalchemy as sa
    from fieldapp.extensions import db
    from fieldapp.notices.models import PrivateNotice
    first = db.session.scalar(sa.select(sa.func.min(PrivateNotice.notice_id)))
    return db.session.scalars(sa.select(PrivateNotice.id).where(PrivateNotice.notice_id == first)
                              .order_by(PrivateNotice.id).limit(limit)).all()


# URL parameter -> candidate ids, best first. A parameter not listed here falls back to the table its name points
# at (<thing>_id: the model named Thing, else the one table named "things" or "..._things"), by id.
PARAMS = {
    "village_id": _village_ids,   # the first village of officer1's grids
    "user_id": _user_ids,         # officer1 (the staff edit page shows a grid officer)
    "item_id": _item_ids,         # a household on the mid-review meeting (the ballot page)
    "token": _notice_tokens,      # the demo's open notice: its public page /n/<token> (the QR's address)
    "private_id": _private_ids,   # a private notice letter of the first notice (with notice_id = that notice)
    "cert_id": lambda bench, limit: _ids_of("fieldapp.certificates.models", "Certificate", limit),
    # the public verify page /V/<cert_token> (the card's QR): demo certificates' tokens, active ones first
    "cert_token": lambda bench, limit: __import__(f"{__package__}.certificates", fromlist=["demo_tokens"])
    .demo_tokens(bench, limit),
}


def _ids_of(module: str, model: str, limit: int) -> list[int]:
    import importlib

    import sqlalchemy as sa
    from fieldapp.extensions import db
    cls = getattr(importlib.import_module(module), model)
    return db.session.scalars(sa.select(cls.id).order_by(cls.id).limit(limit)).all()


def _plural(word: str) -> str:
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    return word + "s"


def _model_for(param: str):
    """The model a URL parameter names, or None if no single one matches."""
    from fieldapp.extensions import db
    thing = param[:-3] if param.endswith("_id") else param
    classes = [m.class_ for m in db.Model.registry.mappers if hasattr(m.class_, "__table__")]
    exact = [c for c in classes if c.__name__.lower() == thing.replace("_", "")]
    if len(exact) == 1:
        return exact[0]
    plural = _plural(thing)
    suffix = [c for c in classes if c.__tablename__ == plural or c.__tablename__.endswith("_" + plural)]
    return suffix[0] if len(suffix) == 1 else None


def candidates(bench: Bench, param: str, limit: int = PROBE_LIMIT) -> tuple[list[int], str | None]:
    """Ids to try for `param`, and why there are none when the list is empty (looked up once per run: many routes
    share a parameter)."""
    memo = bench.shared.setdefault("pageweight_candidates", {})
    if (param, limit) not in memo:
        memo[(param, limit)] = _candidates(bench, param, limit)
    ids, why = memo[(param, limit)]
    return list(ids), why


def _candidates(bench: Bench, param: str, limit: int) -> tuple[list[int], str | None]:
    import sqlalchemy as sa
    from fieldapp.extensions import db
    with bench.app.app_context():
        try:
            if param in PARAMS:
                ids = PARAMS[param](bench, limit)
                return ids, (None if ids else f"no rows for <{param}>")
            model = _model_for(param)
            if model is None:
                return [], f"no table for <{param}> (add it to PARAMS in bench/pageweight.py)"
            ids = db.session.scalars(sa.select(model.id).order_by(model.id).limit(limit)).all()
            return list(ids), (None if ids else f"the {model.__tablename__} table is empty")
        finally:
            db.session.remove()


def build_url(route: Route, values: dict[str, int]) -> str:
    from werkzeug.routing import Map, Rule
    return Map([Rule(route.rule, endpoint=route.endpoint)]).bind("localhost").build(route.endpoint, values)


# ---------------------------------------------------------------- plain HTTP, as the visitor

@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes          # as sent (still compressed)
    header_bytes: int

    @property
    def bytes(self) -> int:
        return len(self.body) + self.header_bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip()

    @property
    def encoding(self) -> str:
        return self.headers.get("content-encoding", "identity")

    def text(self) -> str:
        raw = self.body
        if self.encoding == "br":
            import brotli
            raw = brotli.decompress(raw)
        elif self.encoding == "gzip":
            import gzip
            raw = gzip.decompress(raw)
        return raw.decode("utf-8", errors="replace")


def http_get(bench: Bench, path: str, cookies: str = "", headers: dict[str, str] | None = None,
             encodings: str = "br, gzip", timeout: float = 30) -> Answer:
    """One GET to the bench server (127.0.0.1 only), redirects not followed, body kept as sent."""
    srv = bench.server
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=timeout)
    try:
        hdrs = {"Accept-Encoding": encodings, "Accept-Language": "zh-CN,zh;q=0.9",
                "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
        if cookies:
            hdrs["Cookie"] = cookies
        hdrs.update(headers or {})
        conn.request("GET", path, headers=hdrs)
        resp = conn.getresponse()
        body = resp.read()
        pairs = resp.getheaders()
        header_bytes = len(f"HTTP/1.1 {resp.status} {resp.reason}\r\n") + sum(len(k) + len(v) + 4 for k, v in pairs) + 2
        return Answer(resp.status, {k.lower(): v for k, v in pairs}, body, header_bytes)
    finally:
        conn.close()


# ---------------------------------------------------------------- the browser

def browser(bench: Bench):
    """One headless Debian Chromium for the whole run (Playwright's own browser download is not used)."""
    if "browser" not in bench.shared:
        from playwright.sync_api import sync_playwright
        pw = sync_playwright().start()
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        bench.shared["playwright"], bench.shared["browser"] = pw, b
        bench.shared["device"] = {**pw.devices[DEVICE], "locale": LOCALE}
        bench.facts["chromium"] = b.version

        def close():
            b.close()
            pw.stop()
        bench.on_close(close)
    return bench.shared["browser"]


def new_context(bench: Bench, state: dict | None = None):
    ctx = browser(bench).new_context(**bench.shared["device"], base_url=bench.server.url, storage_state=state)
    ctx.set_default_timeout(20_000)
    return ctx


def login_state(bench: Bench, username: str | None) -> dict | None:
    """Cookies of `username` logged in through the real login form over plain HTTP (bench/client.py; once per run),
    as a Playwright storage state; None for logged out."""
    if username is None:
        return None
    states = bench.shared.setdefault("login_states", {})
    if username not in states:
        from .client import Client
        client = Client.for_server(bench.server)
        try:
            client.login(username, bench.server.password)
            states[username] = {"origins": [], "cookies": [
                {"name": name, "value": value, "domain": bench.server.host, "path": "/", "expires": -1,
                 "httpOnly": True, "secure": False, "sameSite": "Lax"} for name, value in client.cookies.items()]}
        except Exception as exc:  # noqa: BLE001 - remembered, so a failing login is not retried (and locked out)
            states[username] = exc
        finally:
            client.close()
    if isinstance(states[username], Exception):
        raise states[username]
    return states[username]


def cookie_header(state: dict | None) -> str:
    return "; ".join(f"{c['name']}={c['value']}" for c in (state or {}).get("cookies", []))


class NetLog:
    """Requests of one page, from the Chrome DevTools Protocol: what went to the server and how many bytes."""

    def __init__(self, cdp):
        self.requests: dict[str, dict] = {}
        self.last_event = time.monotonic()
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.requestServedFromCache", self._from_cache)
        cdp.on("Network.responseReceived", self._response)
        cdp.on("Network.loadingFinished", self._finished)
        cdp.on("Network.loadingFailed", self._failed)
        cdp.send("Network.enable")

    def reset(self) -> None:
        self.requests = {}

    def _touch(self) -> None:
        self.last_event = time.monotonic()

    def _sent(self, ev) -> None:
        self._touch()
        url = ev["request"]["url"]
        if not url.startswith("http") or urlsplit(url).path in BROWSER_OWN:
            return
        req = self.requests.get(ev["requestId"])
        if req is not None and ev.get("redirectResponse"):   # a redirect hop: count its bytes, keep the id
            req["hops"] += 1
            req["redirect_bytes"] += int(ev["redirectResponse"].get("encodedDataLength") or 0)
            req["url"] = url
            return
        self.requests[ev["requestId"]] = {"url": url, "type": ev.get("type"), "cached": False, "done": False,
                                          "bytes": 0, "hops": 0, "redirect_bytes": 0, "status": None,
                                          "encoding": None}

    def _from_cache(self, ev) -> None:
        self._touch()
        if ev["requestId"] in self.requests:
            self.requests[ev["requestId"]]["cached"] = True

    def _response(self, ev) -> None:
        self._touch()
        req = self.requests.get(ev["requestId"])
        if req is None:
            return
        resp = ev["response"]
        req["status"] = resp.get("status")
        headers = {k.lower(): v for k, v in (resp.get("headers") or {}).items()}
        req["encoding"] = headers.get("content-encoding", "identity")
        if resp.get("fromDiskCache") or resp.get("fromPrefetchCache") or resp.get("fromServiceWorker"):
            req["cached"] = True

    def _finished(self, ev) -> None:
        self._touch()
        req = self.requests.get(ev["requestId"])
        if req is not None:
            req["done"] = True
            req["bytes"] = int(ev.get("encodedDataLength") or 0)

    def _failed(self, ev) -> None:
        self._touch()
        req = self.requests.get(ev["requestId"])
        if req is not None:
            req["done"] = True
            req["failed"] = ev.get("errorText")

    def settled(self, quiet: float = QUIET_S["full"]) -> bool:
        return all(r["done"] for r in self.requests.values()) and time.monotonic() - self.last_event >= quiet

    def network(self) -> list[dict]:
        """Requests that went to the server (a revalidation, 304, counts; a cache hit does not)."""
        return [r for r in self.requests.values() if not r["cached"]]

    def totals(self) -> tuple[int, int]:
        """(bytes, requests) over the network."""
        sent = self.network()
        return (sum(r["bytes"] + r["redirect_bytes"] for r in sent), sum(1 + r["hops"] for r in sent))


NO_THROTTLE = {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}


def visitor_tab(bench: Bench, username: str | None, state: dict | None):
    """One browser tab per visitor for the whole run (page, CDP session, network log): a new context per page
    costs more than the page. Cold loads clear the browser's cache first (Network.clearBrowserCache), so they start
    as empty as a fresh context's; cookies stay, as a logged-in phone's do."""
    tabs = bench.shared.setdefault("pageweight_tabs", {})
    if username not in tabs:
        ctx = new_context(bench, state)
        bench.on_close(ctx.close)
        page = ctx.new_page()
        cdp = ctx.new_cdp_session(page)
        tabs[username] = (page, cdp, NetLog(cdp))
    return tabs[username]


def load(page, log: NetLog, path: str, settle_limit: float = SETTLE_LIMIT_S, quiet: float = QUIET_S["full"]) -> dict:
    """Navigate, wait for the page and whatever it fetches after `load`, and sum the network log; ready_ms is the
    page's own ready time (READY_JS), settled whether the network went quiet within `settle_limit`."""
    log.reset()
    response = page.goto(path, wait_until="load")
    deadline = time.monotonic() + settle_limit
    while not log.settled(quiet) and time.monotonic() < deadline:
        page.wait_for_timeout(10)
    settled = log.settled(quiet)
    try:
        ready_ms = page.evaluate(READY_JS)
    except Exception:  # noqa: BLE001 - a page that navigated away meanwhile has no timing to give
        ready_ms = None
    total, count = log.totals()
    sent = log.network()
    encodings = list(dict.fromkeys(r["encoding"] for r in sorted(sent, key=lambda r: r["type"] != "Document")
                                   if r["encoding"]))
    return {"bytes": total, "requests": count, "status": response.status if response else None,
            "encoding": ",".join(encodings), "final_path": urlsplit(page.url).path, "ready_ms": ready_ms,
            "settled": settled,
            "detail": [{"path": urlsplit(r["url"]).path, "bytes": r["bytes"] + r["redirect_bytes"],
                        "enc": r["encoding"], "status": r["status"]} for r in sent]}


FORM_JS = """() => [...document.forms].some((f) => [...f.elements].some((e) =>
  !['hidden', 'submit', 'button', 'reset', 'fieldset'].includes(e.type) && e.tagName !== 'BUTTON' &&
  e.tagName !== 'FIELDSET' && e.tagName !== 'OUTPUT'))"""


# ---------------------------------------------------------------- the rows

def _over(label: str, value: int | None, target: int | None) -> str | None:
    if value is None or target is None or value <= target:
        return None
    return f"{label} over by {(value - target) / KB:.1f} KB"


def _target_text(kind: str, has_fragment: bool) -> str:
    parts = []
    if kind in COLD_TARGET:
        parts.append(f"cold≤{COLD_TARGET[kind] // KB}")
    if kind != "fragment":
        parts.append(f"warm≤{WARM_TARGET // KB}")
    if has_fragment:
        parts.append(f"frag≤{FRAGMENT_TARGET // KB}")
    return " ".join(parts)


def _section_rows(bench: Bench, limit: int) -> list[dict]:
    """Land holdings of households in officer1's villages: the section row edit form's (household, name, row)."""
    import sqlalchemy as sa
    from fieldapp.extensions import db
    from fieldapp.households.models import Household, LandHolding
    villages = _officer_villages(bench)
    rows = db.session.execute(sa.select(LandHolding.household_id, LandHolding.id)
                              .join(Household, Household.id == LandHolding.household_id)
                              .where(Household.village_id.in_(villages)).order_by(LandHolding.id).limit(limit))
    return [{"household_id": hid, "name": "land", "row_id": rid} for hid, rid in rows]


def _private_letters(bench: Bench, limit: int) -> list[dict]:
    """Private notice letters with their own notice (the URL nests the letter under it), officer1's first."""
    import sqlalchemy as sa
    from fieldapp.extensions import db
    from fieldapp.households.models import Household
    from fieldapp.notices.models import PrivateNotice
    mine = Household.village_id.in_(_officer_villages(bench))
    rows = db.session.execute(sa.select(PrivateNotice.notice_id, PrivateNotice.id)
                              .join(Household, Household.id == PrivateNotice.household_id)
                              .order_by(sa.case((mine, 0), else_=1), PrivateNotice.id).limit(limit))
    return [{"notice_id": nid, "private_id": pid} for nid, pid in rows]


# Routes whose parameters belong together (a row of a household, a letter of a notice): whole value sets, best
# first, instead of one candidate list per parameter.
FILLERS = {
    "/households/<int:household_id>/section/<name>/<int:row_id>": _section_rows,
    "/notices/<int:notice_id>/private/<int:private_id>.pdf": _private_letters,
}


def _value_sets(bench: Bench, route: Route) -> tuple[list[dict], str | None]:
    if route.rule in FILLERS:
        with bench.app.app_context():
            try:
                sets = FILLERS[route.rule](bench, PROBE_LIMIT)
            finally:
                from fieldapp.extensions import db
                db.session.remove()
        return sets, (None if sets else "no rows for this route's parameters")
    lists = []
    for param in route.params:
        ids, why = candidates(bench, param)
        if not ids:
            return [], why
        lists.append(ids)
    return [dict(zip(route.params, combo)) for combo in itertools.islice(itertools.product(*lists), PROBE_LIMIT)], None


def _fill(bench: Bench, route: Route, cookies: str) -> tuple[str | None, str, Answer | None]:
    """A URL of `route` that the visitor can open, or None and why not; and the probe's answer for that URL when
    one was fetched (the same GET the page's plain answer is, so it is not asked again)."""
    if not route.params:
        return build_url(route, {}), "", None
    sets, why = _value_sets(bench, route)
    if not sets:
        return None, f"can't fill: {why}", None
    tried = []
    for values in sets:
        url = build_url(route, values)
        answer = http_get(bench, url, cookies)
        if answer.status == 200:
            return url, "", answer
        tried.append(f"{url}→{answer.status}")
    shown = ", ".join(tried[:3]) + (" …" if len(tried) > 3 else "")
    return None, f"can't fill: no candidate opens ({shown}); see PARAMS in bench/pageweight.py", None


def throttled(bench: Bench, route: Route) -> bool:
    """Whether this page's loads run on emulated 3G: every page in the full run, G3_QUICK in bench-quick."""
    return not bench.quick or route.rule in G3_QUICK


def measure(bench: Bench, route: Route) -> Row:
    label = route.label
    if route.endpoint in NOT_PAGES:
        return Row(label, note=NOT_PAGES[route.endpoint])
    role = role_for(route)
    username = None
    if role is not None:
        username = bench.server.logins.get(role)
        if username is None:
            return Row(label, {"as": role}, note=f"no login for the role {role} in this database")
    values: dict[str, Any] = {"as": username or "(nobody)", "role": role}
    state = login_state(bench, username)
    cookies = cookie_header(state)
    url, why, probed = _fill(bench, route, cookies)
    if url is None:
        return Row(label, values, note=why)
    values["url"] = url
    kind = "verify" if "verify" in route.endpoint else "page"
    notes: list[str] = []

    plain_answer = probed or http_get(bench, url, cookies)
    if plain_answer.status != 200:
        notes.append(f"HTTP {plain_answer.status}" + (f" → {plain_answer.headers.get('location')}"
                                                      if "location" in plain_answer.headers else ""))
    if plain_answer.status == 200 and plain_answer.content_type != "text/html":
        values.update(kind=plain_answer.content_type, cold_bytes=plain_answer.bytes, encoding=plain_answer.encoding)
        return Row(label, values, note=f"not a page ({plain_answer.content_type}): one HTTP request")
    is_document = "<html" in plain_answer.text()[:2000].lower()

    fragment = http_get(bench, url, cookies, {"HX-Request": "true", "HX-Current-URL": bench.server.url + url})
    has_fragment = fragment.status < 300 and "<html" not in fragment.text()[:2000].lower()
    if has_fragment:
        values["fragment_bytes"] = fragment.bytes
        values["fragment_encoding"] = fragment.encoding
    elif fragment.status >= 300:
        notes.append(f"htmx request: HTTP {fragment.status}")

    if not is_document:   # a route that only ever answers with a fragment (an htmx helper)
        values["kind"] = "fragment"
        values["encoding"] = fragment.encoding if has_fragment else plain_answer.encoding
        notes.append("fragment only (no page)")
    else:
        g3 = throttled(bench, route)
        page, cdp, log = visitor_tab(bench, username, state)
        cdp.send("Network.emulateNetworkConditions", G3 if g3 else NO_THROTTLE)
        limit = G3_SETTLE_LIMIT_S if g3 else SETTLE_LIMIT_S
        page.goto("about:blank")
        cdp.send("Network.clearBrowserCache")   # cold: nothing cached, as on a phone's first visit
        cold = load(page, log, url, limit, QUIET_S[bench.kind])
        if page.evaluate(FORM_JS) and kind == "page":
            kind = "form"
        page.goto("about:blank")
        warm = load(page, log, url, limit, QUIET_S[bench.kind])
        values.update(kind=kind, cold_bytes=cold["bytes"], cold_requests=cold["requests"],
                      warm_bytes=warm["bytes"], warm_requests=warm["requests"], encoding=cold["encoding"],
                      status=cold["status"], cold_detail=cold["detail"], warm_detail=warm["detail"])
        if g3:
            values.update(g3_cold_ms=cold["ready_ms"], g3_warm_ms=warm["ready_ms"])
            notes += [f"3G {w}: not settled in {limit:.0f} s" for w, load_ in (("cold", cold), ("warm", warm))
                      if not load_["settled"]]
        else:
            values.update(ready_cold_ms=cold["ready_ms"], ready_warm_ms=warm["ready_ms"])   # unthrottled, JSON only
            notes.append("3G: full run only")
        if cold["final_path"] != urlsplit(url).path:
            notes.append(f"ended on {cold['final_path']}")
        elif cold["status"] != 200 and not notes:
            notes.append(f"HTTP {cold['status']}")
        notes += filter(None, [_over("cold", cold["bytes"], COLD_TARGET.get(kind)),
                               _over("warm", warm["bytes"], WARM_TARGET)])
    values["kind"] = values.get("kind", kind)
    notes += filter(None, [_over("frag", values.get("fragment_bytes"), FRAGMENT_TARGET)])
    return Row(label, values, target=_target_text(values["kind"], has_fragment), note="; ".join(notes))


@producer("pageweight", "Page weight: compressed bytes per page, cold and warm, and ready time on 3G, in Chromium "
          "(Galaxy S8, zh-CN)", COLUMNS, quick=True)
def page_weight(bench: Bench):
    routes = get_routes(bench.app)
    # the 3G key pages first (their rows still print in route order), so a short budget does not cut them
    first = [r for r in routes if bench.quick and r.rule in G3_QUICK]
    done = {id(r): _one(bench, r) for r in first}
    for route in routes:
        yield done[id(route)] if id(route) in done else _one(bench, route)


def _one(bench: Bench, route: Route) -> Row:
    if bench.time_left() <= 0:
        return Row(route.label, note=f"not measured: the {bench.kind} run's time budget "
                                     f"({BUDGET_S[bench.kind] / 60:.0f} minutes in all) ran out")
    echo(f"  {route.label}")
    try:
        return measure(bench, route)
    except Exception as exc:  # noqa: BLE001 - one page's failure is a row, not the end of the table
        return Row(route.label, note=f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:140]}")
