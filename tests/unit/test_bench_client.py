"""bench/client.py's pure helpers: Set-Cookie parsing, form scraping, form encoding (no server started)."""
import pytest

from bench.client import Client, encode_form, form_fields, parse_set_cookie, select_options


@pytest.mark.parametrize(("header", "expected"), [
    ("session=abc.def; HttpOnly; Path=/; SameSite=Lax", ("session", "abc.def")),
    ('remember="x=1"; Path=/', ("remember", "x=1")),
    ("lang=zh_CN", ("lang", "zh_CN")),
    ("session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/", ("session", None)),
    ("session=gone; expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/", ("session", None)),
    ("session=keep; Max-Age=3600", ("session", "keep")),
    ("novalue", None),
    ("=nameless", None),
])
def test_parse_set_cookie(header, expected):
    assert parse_set_cookie(header) == expected


PAGE = """
<form id="logout" method="post"><input type="hidden" name="csrf_token" value="tok1"></form>
<form method="post">
  <input id="csrf_token" name="csrf_token" type="hidden" value="tok2">
  <input name="idem_key" type="hidden" value="0f3c">
  <input name="head_name" value="">
  <input name="agree" type="checkbox" value="y">
  <input name="kind" type="radio" value="a">
  <input name="kind" type="radio" value="b" checked>
  <input name="q" value="王 &amp; 李">
  <input type="submit">
  <select name="group_id">
    <option value="">Choose a group</option>
    <option value="12">一组</option>
    <option value="13" selected>二组
    <option>三组</option>
  </select>
</form>
"""


@pytest.mark.parametrize(("name", "value"), [
    ("csrf_token", "tok1"),      # the first of a name wins
    ("idem_key", "0f3c"),
    ("head_name", ""),
    ("kind", "b"),               # unchecked radios and checkboxes are not sent
    ("q", "王 & 李"),            # entities decoded
])
def test_form_fields(name, value):
    assert form_fields(PAGE)[name] == value


def test_form_fields_leaves_out_unchecked_and_nameless():
    fields = form_fields(PAGE)
    assert "agree" not in fields
    assert set(fields) == {"csrf_token", "idem_key", "head_name", "kind", "q"}


@pytest.mark.parametrize(("html", "name", "expected"), [
    (PAGE, "group_id", [("", "Choose a group", False), ("12", "一组", False), ("13", "二组", True),
                        ("三组", "三组", False)]),
    (PAGE, "missing", []),
    ('<select name="s"></select>', "s", []),
])
def test_select_options(html, name, expected):
    assert select_options(html, name) == expected


@pytest.mark.parametrize(("fields", "body"), [
    ({"a": "1", "b": None}, "a=1&b="),
    ({"head_name": "压测"}, "head_name=%E5%8E%8B%E6%B5%8B"),
    ({"x": "a b&c=d"}, "x=a+b%26c%3Dd"),
    ({"n": 3}, "n=3"),
])
def test_encode_form(fields, body):
    assert encode_form(fields) == body


@pytest.mark.parametrize("host", ["example.com", "10.0.0.1", "0.0.0.0"])
def test_client_refuses_other_hosts(host):
    with pytest.raises(ValueError):
        Client(host, 80)
