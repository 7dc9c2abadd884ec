"""Pages and fragments, error pages, security headers, static caching, CSRF and language."""
from __future__ import annotations

import re

import pytest

from tests.conftest import HX, login


def test_fragment_for_htmx_full_page_for_boost_and_history(client, world):
    login(client, world.officer)
    full = client.get("/villages?q=金")
    frag = client.get("/villages?q=金", headers=HX)
    boosted = client.get("/villages?q=金", headers={**HX, "HX-Boosted": "true"})
    restore = client.get("/villages?q=金", headers={**HX, "HX-History-Restore-Request": "true"})
    for resp in (full, boosted, restore):
        assert resp.status_code == 200 and b"<html" in resp.data and b'id="village-rows"' in resp.data
    assert frag.status_code == 200 and b"<html" not in frag.data and frag.data.lstrip().startswith(b'<div id="village-rows"')
    assert "金星村" in frag.get_data(as_text=True)
    for resp in (full, frag):
        assert "HX-Request" in resp.headers["Vary"]


def test_search_works_without_javascript(client, world):
    login(client, world.officer)
    body = client.get("/villages?q=龙门").get_data(as_text=True)
    assert "龙门村" in body and "金星村" not in body


@pytest.mark.parametrize(("url", "status"), [
    pytest.param("/no-such-page", 404, id="404"),
    pytest.param("/villages/999999", 404, id="404-scoped"),
    pytest.param("/staff", 403, id="403"),
])
def test_error_pages_are_in_chinese_without_traces(client, world, url, status):
    login(client, world.officer)
    client.set_cookie("lang", "zh_CN")
    resp = client.get(url)
    assert resp.status_code == status
    body = resp.get_data(as_text=True)
    assert "Traceback" not in body and 'lang="zh-CN"' in body
    assert re.search(r"[\u4e00-\u9fff]{4,}", body)


def test_405_and_413_and_400_pages(app, client, world):
    client.set_cookie("lang", "zh_CN")
    resp = client.delete("/login")
    assert resp.status_code == 405 and "不支持" in resp.get_data(as_text=True)
    app.config["MAX_CONTENT_LENGTH"] = 1000
    login(client, world.hq)
    resp = client.post("/staff/new", data={"name": "x" * 5000, "idem_key": "k" * 20})
    assert resp.status_code == 413 and "过大" in resp.get_data(as_text=True)


def test_500_page_hides_the_trace(app, client):
    from fieldapp.core import access

    @access.public
    def boom():
        raise RuntimeError("secret internals")

    app.add_url_rule("/boom-test", "boom_test", boom)
    client.set_cookie("lang", "zh_CN")
    resp = client.get("/boom-test")
    assert resp.status_code == 500
    body = resp.get_data(as_text=True)
    assert "secret internals" not in body and "Traceback" not in body and "服务器出错" in body


def test_english_switch_is_remembered_and_accept_language_first_visit(client, world):
    assert 'lang="zh-CN"' in client.get("/login").get_data(as_text=True)
    assert 'lang="en"' in client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    resp = client.get("/language/en?next=/login")
    assert resp.status_code == 303 and resp.headers["Location"] == "/login"
    assert "Log in" in client.get("/login").get_data(as_text=True)
    client.get("/language/zh_CN?next=/login")
    assert "登录" in client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert client.get("/language/xx").status_code == 404
    assert client.get("/language/en?next=//evil.example/x").headers["Location"] == "/"


def test_security_headers_and_csp(client):
    resp = client.get("/login")
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert "no-store" in resp.headers["Cache-Control"]
    body = resp.get_data(as_text=True)
    assert "<script>" not in body and "style=" not in body


def test_static_files_have_hashed_urls_and_long_cache(client, world):
    login(client, world.officer)
    body = client.get("/villages").get_data(as_text=True)
    src = re.search(r'src="(/static/vendor/htmx-2\.0\.11\.min\.js\?v=[0-9a-f]{12})"', body).group(1)
    resp = client.get(src)
    assert resp.status_code == 200
    assert "max-age=31536000" in resp.headers["Cache-Control"] and "immutable" in resp.headers["Cache-Control"]
    cfg = re.search(r"name=\"htmx-config\" content='([^']+)'", body).group(1)
    assert '"includeIndicatorStyles": false' in cfg and '"allowEval": false' in cfg


def test_pages_are_compressed(client, world):
    login(client, world.officer)
    resp = client.get("/villages", headers={"Accept-Encoding": "br, gzip"})
    assert resp.headers.get("Content-Encoding") in ("br", "gzip")


class TestCsrf:
    @pytest.fixture
    def app_config(self):
        return {"WTF_CSRF_ENABLED": True}

    def test_post_without_token_is_refused_with_a_clear_message(self, client, world):
        client.set_cookie("lang", "zh_CN")
        resp = client.post("/login", data={"login": "officer1", "password": "x"})
        assert resp.status_code == 400 and "表单已过期" in resp.get_data(as_text=True)

    def test_post_with_token_from_the_page_works(self, client, world):
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        from tests.conftest import PASSWORD
        resp = client.post("/login", data={"login": "officer1", "password": PASSWORD, "csrf_token": token})
        assert resp.status_code == 303


def test_htmx_request_without_login_gets_401_with_redirect(client):
    resp = client.get("/villages", headers=HX)
    assert resp.status_code == 401 and resp.headers["HX-Redirect"].startswith("/login")
    resp = client.get("/villages")
    assert resp.status_code == 302 and "/login?next=" in resp.headers["Location"]


def test_auditor_pages_have_no_write_buttons(client, world):
    login(client, world.auditor)
    body = client.get(f"/villages/{world.v1.id}").get_data(as_text=True)
    assert 'class="primary"' not in body
    assert client.post("/staff/new", data={"idem_key": "x" * 12}).status_code == 403


@pytest.mark.parametrize("encoding,decode", [
    ("br", lambda b: __import__("brotli").decompress(b)),
    ("gzip", lambda b: __import__("gzip").decompress(b)),
])
def test_static_text_is_sent_precompressed_at_the_strongest_level(client, world, encoding, decode):
    """offline.js goes out minified at brotli 11 / gzip 9 (smaller than Flask-Compress's per-request level of the
    source), and revalidates per encoding. (tests/browser/test_offline.py runs the minified script.)"""
    import brotli
    import rjsmin
    from fieldapp.core.web import STATIC
    raw = (STATIC / "offline.js").read_bytes()
    resp = client.get("/static/offline.js", headers={"Accept-Encoding": encoding})
    assert resp.status_code == 200 and resp.headers["Content-Encoding"] == encoding
    sent = decode(resp.get_data())
    assert sent == rjsmin.jsmin(raw) and len(sent) < 0.85 * len(raw)
    assert b"FA.onScan" in sent and b"// " not in sent
    assert "Accept-Encoding" in resp.headers["Vary"]
    if encoding == "br":
        assert len(resp.get_data()) < len(brotli.compress(raw, quality=4))
    etag = resp.headers["ETag"]
    assert etag.endswith(f':{encoding}"')
    again = client.get("/static/offline.js", headers={"Accept-Encoding": encoding, "If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    plain = client.get("/static/offline.js", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers and plain.get_data() == raw


def test_css_and_js_carry_no_document_headers_and_do_not_vary_on_the_cookie(client, world):
    """A cold page fetches several of these: they keep nosniff and their long cache, but not the CSP and other
    document-only headers, and a logged-in request does not split shared caches by cookie."""
    login(client, world.officer)
    body = client.get("/villages").get_data(as_text=True)
    src = re.search(r'src="(/static/offline\.js\?v=[0-9a-f]{12})"', body).group(1)
    resp = client.get(src, headers={"Accept-Encoding": "br"})
    assert resp.status_code == 200 and resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "immutable" in resp.headers["Cache-Control"]
    for name in ("Content-Security-Policy", "X-Frame-Options", "Permissions-Policy", "Content-Disposition",
                 "Expires", "Last-Modified"):
        assert name not in resp.headers, name
    assert "cookie" not in resp.headers["Vary"].lower()
    page = client.get("/villages")
    assert "Content-Security-Policy" in page.headers and "Cookie" in page.headers["Vary"]


def test_photos_js_is_not_on_every_page_but_its_address_is(client, world):
    """offline.js fetches photos.js only on a page with a photo input (tests/browser/test_offline.py uploads)."""
    login(client, world.officer)
    body = client.get("/villages").get_data(as_text=True)
    assert "photos.js" not in re.sub(r'data-photos-js="[^"]+"', "", body)
    src = re.search(r'data-photos-js="(/static/photos\.js\?v=[0-9a-f]{12})"', body).group(1)
    assert client.get(src).status_code == 200
