"""bench/latency.py's wrk report parser and small formatters (no wrk, no server)."""
import pytest

from bench.latency import create_check, few_answers, fmt_ms, fmt_ratio, fmt_rps, header_args, parse_report, ratio, summarize

LINE = ("BENCH requests=1000 duration_us=2000000 bytes=12345 status_errors=10 connect_errors=1 read_errors=2 "
        "write_errors=0 timeouts=3 p50_us=1500 p95_us=4200 p99_us=9999 max_us=20000 mean_us=2000 issued=1012 "
        "threads=1")
WRK_OUTPUT = f"""Running 2s test @ http://127.0.0.1:5000/
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.00ms    1.00ms  20.00ms   90.00%
  1000 requests in 2.00s, 12.06KB read
Requests/sec:    500.00
{LINE}
"""


@pytest.mark.parametrize(("text", "key", "value"), [
    (WRK_OUTPUT, "requests", 1000),
    (WRK_OUTPUT, "p99_us", 9999),
    (WRK_OUTPUT, "issued", 1012),
    (LINE, "status_errors", 10),
    ("BENCH requests=5 duration_us=10 p50_us=1 p95_us=2 p99_us=3 status_errors=0 mean_us=1.6", "mean_us", 1),
    # the last BENCH line wins
    ("BENCH requests=1 duration_us=1 p50_us=1 p95_us=1 p99_us=1 status_errors=0\n"
     "BENCH requests=2 duration_us=1 p50_us=1 p95_us=1 p99_us=1 status_errors=0", "requests", 2),
])
def test_parse_report(text, key, value):
    assert parse_report(text)[key] == value


@pytest.mark.parametrize("text", [
    "", "Requests/sec: 10", "BENCH requests=1", "BENCH requests=1 duration_us=1 p50_us=1 p95_us=1 p99_us=1 oops",
    "xBENCH requests=1 duration_us=1 p50_us=1 p95_us=1 p99_us=1 status_errors=0",
])
def test_parse_report_refuses(text):
    with pytest.raises(ValueError):
        parse_report(text)


def test_summarize():
    s = summarize(parse_report(WRK_OUTPUT))
    assert s["p50_ms"] == 1.5 and s["p95_ms"] == 4.2 and s["p99_ms"] == 9.999
    assert s["rps"] == 500.0
    assert (s["ok"], s["bad"], s["socket_errors"], s["timeouts"], s["issued"]) == (990, 10, 3, 3, 1011)


def test_summarize_zero_duration():
    s = summarize({"requests": 0, "duration_us": 0, "p50_us": 0, "p95_us": 0, "p99_us": 0, "status_errors": 0})
    assert s["rps"] is None


@pytest.mark.parametrize(("value", "base", "expected"), [
    (50, 100, 0.5), (100, 50, 2.0), (None, 1, None), (1, None, None), (1, 0, None),
])
def test_ratio(value, base, expected):
    assert ratio(value, base) == expected


@pytest.mark.parametrize(("fmt", "value", "text"), [
    (fmt_ms, 1.234, "1.2"), (fmt_ms, None, ""), (fmt_rps, 1234.6, "1235"), (fmt_rps, 3.25, "3.2"),
    (fmt_rps, None, ""), (fmt_ratio, 0.4217, "x0.42"), (fmt_ratio, None, ""),
])
def test_formatters(fmt, value, text):
    assert fmt(value) == text


def test_header_args():
    assert header_args({"Cookie": "a=b; c=d", "Accept-Encoding": "br"}) == [
        "-H", "Cookie: a=b; c=d", "-H", "Accept-Encoding: br"]


def test_summarize_nothing_answered():
    s = summarize(parse_report("BENCH requests=0 duration_us=4000000 p50_us=0 p95_us=0 p99_us=0 status_errors=0"))
    assert (s["p50_ms"], s["p95_ms"], s["p99_ms"], s["rps"]) == (None, None, None, 0.0)


@pytest.mark.parametrize(("requests", "connections", "note"), [
    (0, 10, "no answer within the 4 s run at c=10"),
    (5, 1, "only 5 answers in 4 s"),
    (15, 10, "only 15 answers in 4 s"),
    (10, 1, None),
    (20, 10, None),
])
def test_few_answers(requests, connections, note):
    assert few_answers({"requests": requests, "seconds": 4.0}, connections) == note


@pytest.mark.parametrize(("ok", "in_flight", "created", "holds", "note_part"), [
    (100, 0, 100, True, "= 100 2xx/3xx ✓"),
    (100, 10, 110, True, "+ 10 in flight"),
    (100, 10, 104, True, "+ 4 of the 10 in flight"),
    (100, 10, 100, True, "+ 0 of the 10 in flight"),
    (100, 10, 111, False, "MISMATCH"),    # a duplicate
    (100, 0, 99, False, "MISMATCH"),      # an answer without its household
    (0, 0, 0, True, "= 0 2xx/3xx ✓"),
])
def test_create_check(ok, in_flight, created, holds, note_part):
    result, note = create_check(ok, in_flight, created)
    assert result is holds
    assert note_part in note
