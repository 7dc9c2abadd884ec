"""A tiny HTTP client for the bench: a cookie jar, a login through the real /login form, forms read like a browser.

http.client only, and only to the bench server on 127.0.0.1 (no `requests`). One `Client` is one phone: its
cookies, and one keep-alive connection (reopened when the server closed it). Not thread-safe: give each thread
its own (`clone()` copies the cookies of a logged-in one).

The pure helpers (`parse_set_cookie`, `form_fields`, `select_options`, `encode_form`) are tested in
tests/unit/test_bench_client.py.
"""
from __future__ import annotations

import http.client
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urlencode

LOOPBACK = ("127.0.0.1", "localhost", "::1")
DEFAULT_HEADERS = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "Accept-Language": "zh-CN,zh;q=0.9",
                   "User-Agent": "fieldapp-bench"}


# ---------------------------------------------------------------- pure helpers

def parse_set_cookie(value: str) -> tuple[str, str | None] | None:
    """(name, value) of one Set-Cookie header; value None when the cookie is deleted (expired or Max-Age=0)."""
    parts = [p.strip() for p in value.split(";")]
    if not parts or "=" not in parts[0]:
        return None
    name, _, val = parts[0].partition("=")
    name = name.strip()
    if not name:
        return None
    val = val.strip()
    if len(val) >= 2 and val[0] == val[-1] == '"':
        val = val[1:-1]
    for attr in parts[1:]:
        key, _, arg = attr.partition("=")
        key = key.strip().lower()
        if key == "max-age" and arg.strip().lstrip("-").isdigit() and int(arg) <= 0:
            return name, None
        if key == "expires" and arg.strip().endswith(("1970 00:00:00 GMT", "1970 00:00:00 UTC")):
            return name, None
    return name, val


class _FormParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.inputs: list[tuple[str, str]] = []
        self.selects: dict[str, list[tuple[str, str, bool]]] = {}
        self._select: str | None = None
        self._option: list | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "input" and a.get("name"):
            if a.get("type", "").lower() in ("checkbox", "radio") and "checked" not in a:
                return
            self.inputs.append((a["name"], a.get("value", "")))
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
            self.selects.setdefault(self._select, [])
        elif tag == "option" and self._select is not None:
            self._close_option()
            self._option = [a.get("value"), "", "selected" in a]

    def handle_data(self, data):
        if self._option is not None:
            self._option[1] += data

    def handle_endtag(self, tag):
        if tag == "option":
            self._close_option()
        elif tag == "select":
            self._close_option()
            self._select = None

    def _close_option(self):
        if self._option is not None and self._select is not None:
            value, text, selected = self._option
            text = " ".join(text.split())
            self.selects[self._select].append((text if value is None else value, text, selected))
        self._option = None


def _parse(html: str) -> _FormParser:
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    return parser


def form_fields(html: str) -> dict[str, str]:
    """Input name -> value (the first of each name: a page may render the CSRF token in more than one form)."""
    out: dict[str, str] = {}
    for name, value in _parse(html).inputs:
        out.setdefault(name, value)
    return out


def select_options(html: str, name: str) -> list[tuple[str, str, bool]]:
    """(value, text, selected) of each <option> of the <select name=...>, in order ([] if there is none)."""
    return _parse(html).selects.get(name, [])


def encode_form(fields: dict[str, object]) -> str:
    """application/x-www-form-urlencoded, UTF-8 (None values are sent empty)."""
    return urlencode([(k, "" if v is None else str(v)) for k, v in fields.items()])


# ---------------------------------------------------------------- the client

@dataclass
class Response:
    status: int
    headers: dict[str, str]   # lower-case names (Set-Cookie joined; the jar has read them one by one)
    body: bytes
    seconds: float

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


class Client:
    """A cookie jar and a keep-alive connection to host:port (127.0.0.1 only)."""

    def __init__(self, host: str, port: int, timeout: float = 60.0):
        if host not in LOOPBACK:
            raise ValueError(f"the bench client talks to 127.0.0.1 only, not {host}")
        self.host, self.port, self.timeout = host, port, timeout
        self.cookies: dict[str, str] = {}
        self._conn: http.client.HTTPConnection | None = None

    @classmethod
    def for_server(cls, server, timeout: float = 60.0) -> "Client":
        return cls(server.host, server.port, timeout)

    def clone(self) -> "Client":
        """Another connection with a copy of these cookies (for another thread)."""
        other = Client(self.host, self.port, self.timeout)
        other.cookies = dict(self.cookies)
        return other

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def request(self, method: str, path: str, body: str | bytes | None = None,
                headers: dict[str, str] | None = None) -> Response:
        """One request, redirects not followed. A keep-alive connection the server closed meanwhile is reopened
        once for a GET (never for a POST: that is the caller's retry, with its idempotency key)."""
        hdrs = dict(DEFAULT_HEADERS)
        if self.cookies:
            hdrs["Cookie"] = self.cookie_header()
        hdrs.update(headers or {})
        payload = body.encode() if isinstance(body, str) else body
        for attempt in (0, 1):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            started = time.perf_counter()
            try:
                self._conn.request(method, path, body=payload, headers=hdrs)
                resp = self._conn.getresponse()
                data = resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt == 0 and method == "GET":
                    continue
                raise
            seconds = time.perf_counter() - started
            pairs = resp.getheaders()
            for key, value in pairs:
                if key.lower() == "set-cookie":
                    parsed = parse_set_cookie(value)
                    if parsed is not None:
                        name, val = parsed
                        if val is None:
                            self.cookies.pop(name, None)
                        else:
                            self.cookies[name] = val
            if resp.will_close:
                self.close()
            merged: dict[str, str] = {}
            for key, value in pairs:
                k = key.lower()
                merged[k] = f"{merged[k]}, {value}" if k in merged else value
            return Response(resp.status, merged, data, seconds)
        raise AssertionError("unreachable")

    def get(self, path: str, headers: dict[str, str] | None = None) -> Response:
        return self.request("GET", path, headers=headers)

    def post_form(self, path: str, fields: dict[str, object], headers: dict[str, str] | None = None) -> Response:
        hdrs = {"Content-Type": "application/x-www-form-urlencoded"}
        hdrs.update(headers or {})
        return self.request("POST", path, encode_form(fields), hdrs)

    def form(self, path: str) -> tuple[Response, dict[str, str]]:
        """GET a form page: the answer and its inputs (csrf_token, idem_key, ...)."""
        resp = self.get(path)
        return resp, (form_fields(resp.text) if resp.status == 200 else {})

    def login(self, username: str, password: str) -> None:
        """Log in through the real /login form (its CSRF token included); raises if it does not take."""
        page, fields = self.form("/login")
        if page.status != 200 or "csrf_token" not in fields:
            raise RuntimeError(f"GET /login answered {page.status} without a csrf_token")
        fields.update({"login": username, "password": password})
        resp = self.post_form("/login", fields)
        if resp.status not in (302, 303) or resp.location.split("?")[0].endswith("/login"):
            raise RuntimeError(f"logging in as {username} failed: POST /login answered {resp.status}")


def logged_in(bench, role: str) -> Client:
    """A client logged in as the demo user of `role` (one login per role per run, kept in bench.shared; clone it
    for another thread). Raises KeyError when the database has no login for that role."""
    clients = bench.shared.setdefault("http_clients", {})
    if role not in clients:
        username = bench.server.logins[role]
        client = Client.for_server(bench.server)
        client.login(username, bench.server.password)
        client.close()
        clients[role] = client
    return clients[role].clone()
