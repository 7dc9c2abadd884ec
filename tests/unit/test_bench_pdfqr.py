"""bench/pdfqr.py's and bench/pageweight.py's pure helpers: per-page time, ratios, their formats, the bench village's
head names, which pages load on emulated 3G (no server started)."""
from types import SimpleNamespace

import pytest

from bench.pageweight import G3, G3_QUICK, Route, throttled
from bench.pdfqr import head_names, ms_fmt, per_page_ms, ratio, ratio_fmt, seconds_fmt


@pytest.mark.parametrize(("seconds", "pages", "expected"), [
    (0.5, 1, 500.0),
    (12.0, 200, 60.0),
    (1.5, 3, 500.0),
    (None, 3, None),
    (1.0, None, None),
    (1.0, 0, None),
])
def test_per_page_ms(seconds, pages, expected):
    assert per_page_ms(seconds, pages) == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize(("value", "base", "expected"), [
    (600.0, 500.0, 1.2),
    (250.0, 500.0, 0.5),
    (500.0, 500.0, 1.0),
    (None, 500.0, None),
    (500.0, None, None),
    (500.0, 0.0, None),
])
def test_ratio(value, base, expected):
    assert ratio(value, base) == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize(("fmt", "value", "text"), [
    (ratio_fmt, 1.0, "x1.00"),
    (ratio_fmt, 0.4249, "x0.42"),
    (ratio_fmt, None, ""),
    (ms_fmt, 518.66, "518.7"),
    (ms_fmt, None, ""),
    (seconds_fmt, 15.123, "15.12"),
    (seconds_fmt, None, ""),
])
def test_formats(fmt, value, text):
    assert fmt(value) == text


@pytest.mark.parametrize("n", [1, 50, 151, 1501])
def test_head_names_are_distinct_han_names(n):
    names = head_names(n)
    assert len(names) == n and len(set(names)) == n
    assert all(len(name) in (2, 3) for name in names)
    assert head_names(n) == names   # deterministic


def _route(rule):
    return Route(rule, "x.y", (), "public")


@pytest.mark.parametrize(("kind", "rule", "expected"), [
    ("full", "/admin/org", True),
    ("full", "/login", True),
    ("quick", "/login", True),
    ("quick", "/V/<path:cert_token>", True),
    ("quick", "/households/<int:household_id>/visits/new", True),
    ("quick", "/admin/org", False),
    ("quick", "/v/<path:cert_token>", False),
])
def test_throttled(kind, rule, expected):
    bench = SimpleNamespace(quick=kind == "quick")
    assert throttled(bench, _route(rule)) is expected


def test_g3_is_400_ms_and_400_kbit_each_way():
    assert G3["latency"] == 400
    assert G3["downloadThroughput"] == G3["uploadThroughput"] == 50_000   # bytes per second
    assert len(G3_QUICK) == 7
