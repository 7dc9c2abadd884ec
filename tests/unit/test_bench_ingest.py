"""bench/ingest.py's percentile and retry-storm bookkeeping (no server)."""
import pytest

from bench.ingest import error_text, percentile, storm_outcome


@pytest.mark.parametrize(("values", "p", "expected"), [
    ([], 50, None),
    ([7.0], 99, 7.0),
    ([1, 2, 3, 4], 50, 2.5),
    ([4, 1, 3, 2], 0, 1),
    ([4, 1, 3, 2], 100, 4),
    ([1, 2, 3, 4, 5], 95, 4.8),
    (list(range(101)), 99, 99),
])
def test_percentile(values, p, expected):
    if expected is None:
        assert percentile(values, p) is None
    else:
        assert percentile(values, p) == pytest.approx(expected)


@pytest.mark.parametrize(("copies", "expected"), [
    ([(303, False), (303, True), (303, True)], {"copies": 3, "ok": 3, "replayed": 2, "created": 1, "failed": 0}),
    ([(303, True), (303, False), (409, False)], {"copies": 3, "ok": 2, "replayed": 1, "created": 1, "failed": 1}),
    ([(303, False), (303, False), (303, True)], {"copies": 3, "ok": 3, "replayed": 1, "created": 2, "failed": 0}),
    ([(422, False), (500, False), (400, True)], {"copies": 3, "ok": 0, "replayed": 0, "created": 0, "failed": 3}),
])
def test_storm_outcome(copies, expected):
    assert storm_outcome(copies) == expected


@pytest.mark.parametrize(("html", "text"), [
    ('<p class="error banner" role="alert">No household code could be allocated; send the form again.</p>',
     "No household code could be allocated; send the form again."),
    ('<div><p class="hint">x</p><p class="error" id="e">Enter the name.</p></div>', "Enter the name."),
    ("<html><style>p{}</style><body><h1>Bad &amp; worse</h1></body></html>", "Bad & worse"),
    ("", ""),
])
def test_error_text(html, text):
    assert error_text(html) == text
