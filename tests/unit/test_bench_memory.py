"""bench/memory.py's /proc parsers (no server)."""
import pytest

from bench.memory import parse_children, parse_status

STATUS = """Name:\tgunicorn
State:\tS (sleeping)
Pid:\t4242
PPid:\t4200
VmPeak:\t  300000 kB
VmHWM:\t  123456 kB
VmRSS:\t  100000 kB
Threads:\t5
"""


@pytest.mark.parametrize(("key", "value"), [
    ("PPid", 4200), ("VmHWM", 123456 * 1024), ("VmRSS", 100000 * 1024), ("VmPeak", 300000 * 1024),
])
def test_parse_status(key, value):
    assert parse_status(STATUS)[key] == value


def test_parse_status_leaves_out_the_rest():
    assert set(parse_status(STATUS)) == {"PPid", "VmPeak", "VmHWM", "VmRSS"}
    assert parse_status("") == {}


@pytest.mark.parametrize(("texts", "pids"), [
    (["101 102 "], [101, 102]),
    (["101 ", "", "102 101\n"], [101, 102]),
    ([], []),
    (["x 7"], [7]),
])
def test_parse_children(texts, pids):
    assert parse_children(texts) == pids
