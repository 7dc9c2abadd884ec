"""Notice rules (W4, N-1..N-10): windows, transitions, item outcomes, receipts, the snapshot hash, posting radius."""
from __future__ import annotations

import ast
import os
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldapp.notices import rules
from fieldapp.notices.rules import TransitionRefused

D = date


def test_rules_import_no_flask_and_no_database():
    tree = ast.parse((Path(__file__).resolve().parents[2] / "fieldapp/notices/rules.py").read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
    banned = {"flask", "flask_babel", "flask_wtf", "sqlalchemy", "..extensions", ".models", "..core.clock"}
    assert not {name for name in imported if name.split(".")[0] in banned or name in banned}, imported


def test_constants_mirror_the_models():
    from fieldapp.notices import models
    assert rules.NOTICE_STATUSES == models.NOTICE_STATUSES
    assert rules.ITEM_STATUSES == models.ITEM_STATUSES
    assert rules.OBJECTION_STATUSES == models.OBJECTION_STATUSES
    assert set(rules.STATUS_LABELS) == set(rules.NOTICE_STATUSES)
    assert set(rules.ITEM_STATUS_LABELS) == set(rules.ITEM_STATUSES)


# ---------------------------------------------------------------- window (N-1)

@pytest.mark.parametrize("start,days,end", [
    (D(2026, 3, 2), 7, D(2026, 3, 8)),     # SC-01: opens day 2, last day 8, closes on day 9
    (D(2026, 3, 9), 3, D(2026, 3, 11)),    # re-notice 9..11, final on day 12
    (D(2026, 2, 25), 5, D(2026, 3, 1)),    # across the end of February
    (D(2028, 2, 27), 3, D(2028, 2, 29)),   # leap day
    (D(2026, 12, 30), 7, D(2027, 1, 5)),   # across the year
    (D(2026, 1, 1), 1, D(2026, 1, 1)),
])
def test_window_counts_calendar_days_both_ends_included(start, days, end):
    assert rules.window(start, days) == end


def test_window_needs_at_least_a_day():
    with pytest.raises(ValueError):
        rules.window(D(2026, 1, 1), 0)


@pytest.mark.parametrize("days,ok", [(4, False), (5, True), (7, True), (15, True), (16, False), (0, False),
                                     (-7, False), (True, False), ("7", False)])
def test_duration_within_configured_bounds(days, ok):
    assert rules.duration_ok(days, 5, 15) is ok


def test_duration_bounds_are_parameters():
    assert rules.duration_ok(3, 3, 3) and not rules.duration_ok(4, 3, 3)


@pytest.mark.parametrize("today,left,open_,over", [
    (D(2026, 3, 1), 8, False, False),   # before the first day: not open yet
    (D(2026, 3, 2), 7, True, False),
    (D(2026, 3, 8), 1, True, False),    # the last day still counts
    (D(2026, 3, 9), 0, False, True),    # the day after: over
    (D(2026, 4, 1), 0, False, True),
])
def test_days_left_open_and_over(today, left, open_, over):
    start, end = D(2026, 3, 2), D(2026, 3, 8)
    assert rules.days_left(end, today) == left
    assert rules.is_open_on(start, end, today) is open_
    assert rules.is_over(end, today) is over


def test_no_dates_is_neither_open_nor_over():
    assert rules.days_left(None, D(2026, 1, 1)) == 0
    assert not rules.is_open_on(None, None, D(2026, 1, 1))
    assert not rules.is_over(None, D(2026, 1, 1))


SH = timezone(timedelta(hours=8))


@pytest.mark.parametrize("received,within", [
    (datetime(2026, 3, 2, 0, 0), True),                           # 00:00 of the first day
    (datetime(2026, 3, 8, 23, 59, 59), True),                     # the end of the last day
    (datetime(2026, 3, 9, 0, 0), False),                          # N-7: a complaint
    (datetime(2026, 3, 1, 23, 59), False),                        # before it opened
    (datetime(2026, 3, 8, 15, 59, tzinfo=timezone.utc), True),    # 23:59 in Shanghai
    (datetime(2026, 3, 8, 16, 0, tzinfo=timezone.utc), False),    # 00:00 on the 9th in Shanghai
    (datetime(2026, 3, 1, 16, 0, tzinfo=timezone.utc), True),     # 00:00 on the 2nd in Shanghai
    (datetime(2026, 3, 8, 12, 0, tzinfo=SH), True),
])
def test_within_window_uses_the_local_calendar(received, within):
    assert rules.within_window(received, D(2026, 3, 2), D(2026, 3, 8)) is within


# ---------------------------------------------------------------- transitions (W4)

@pytest.mark.parametrize("current,event,after", [
    ("draft", "schedule", "scheduled"),
    ("scheduled", "open", "open"),
    ("open", "close", "closed"),
    ("closed", "finalise", "finalised"),
    ("draft", "cancel", "cancelled"),
    ("scheduled", "cancel", "cancelled"),
])
def test_allowed_transitions(current, event, after):
    assert rules.next_status(current, event) == after


@pytest.mark.parametrize("current,event", [
    ("draft", "open"),          # W4: scheduled first
    ("draft", "close"),
    ("open", "finalise"),       # closes first
    ("open", "cancel"),         # once posted: supplementary notices, not a cancel
    ("closed", "cancel"),
    ("finalised", "close"),
    ("cancelled", "schedule"),
    ("scheduled", "schedule"),
    ("open", "open"),
])
def test_refused_transitions(current, event):
    with pytest.raises(TransitionRefused):
        rules.next_status(current, event)


def test_every_status_and_event_is_known_and_terminal_states_allow_nothing():
    for (current, event), after in rules.TRANSITIONS.items():
        assert current in rules.NOTICE_STATUSES and after in rules.NOTICE_STATUSES and event in rules.NOTICE_EVENTS
    assert rules.allowed_events("finalised") == [] and rules.allowed_events("cancelled") == []
    assert rules.allowed_events("draft") == ["schedule", "cancel"]


# ---------------------------------------------------------------- items (N-8)

@pytest.mark.parametrize("item,rating,blocked,outcome", [
    ("listed", "on_notice", False, "final"),
    ("listed", "re_notice", False, "final"),        # a supplement's item
    ("objected", "on_notice", False, "final"),      # the objection was rejected
    ("listed", "on_notice", True, "wait"),          # N-8: only this item waits
    ("objected", "on_notice", True, "wait"),
    ("listed", "superseded", False, "wait"),        # re-rating approved, re-notice not made yet
    ("listed", "withdrawn", True, "withdrawn"),     # the household withdrew
    ("final", "final", False, None),
    ("changed", "superseded", False, None),
    ("withdrawn", "withdrawn", False, None),
])
def test_item_outcome(item, rating, blocked, outcome):
    assert rules.item_outcome(item, rating, blocked) == outcome


@pytest.mark.parametrize("statuses,settled", [
    (["final", "final"], True), (["final", "changed", "withdrawn"], True), ([], True),
    (["final", "listed"], False), (["objected"], False),
])
def test_notice_settled(statuses, settled):
    assert rules.notice_settled(statuses) is settled


# ---------------------------------------------------------------- posting (N-3)

def test_distance_reuses_the_visits_haversine():
    from fieldapp.visits.rules import haversine_m
    assert rules.distance_m(26.5, 99.9, 26.51, 99.9) == haversine_m(26.5, 99.9, 26.51, 99.9)
    assert 1100 < rules.distance_m(26.5, 99.9, 26.51, 99.9) < 1125  # 0.01° of latitude ≈ 1.11 km


@pytest.mark.parametrize("distance,radius,ok", [
    (0.0, 1500, True), (1500.0, 1500, True), (1500.1, 1500, False), (None, 1500, False), (200, 100, False),
])
def test_posting_ok(distance, radius, ok):
    assert rules.posting_ok(distance, radius) is ok


# ---------------------------------------------------------------- receipts

def test_receipt_shape_and_check():
    r = rules.new_receipt(bytes([1, 2, 3, 4, 5, 6]), year=2026)
    assert len(r) == 9 and r.startswith("26")
    assert all(c in rules.RECEIPT_ALPHABET for c in r[2:])
    assert rules.receipt_ok(r)
    assert rules.new_receipt(bytes([1, 2, 3, 4, 5, 6]), year=2026) == r  # deterministic in its bytes


def test_receipt_needs_randomness():
    with pytest.raises(ValueError):
        rules.new_receipt(b"abc", year=2026)


@given(st.binary(min_size=6, max_size=6), st.integers(min_value=2000, max_value=2099))
def test_every_single_character_error_is_caught(rng, year):
    r = rules.new_receipt(rng, year=year)
    assert rules.receipt_ok(r)
    for pos in range(2, len(r)):
        for ch in rules.RECEIPT_ALPHABET:
            if ch != r[pos]:
                assert not rules.receipt_ok(r[:pos] + ch + r[pos + 1:])


def test_typed_receipts_are_normalised():
    r = rules.new_receipt(os.urandom(6), year=2026)
    assert rules.normalise_receipt(r.lower()) == r
    assert rules.normalise_receipt(f" {r[:4]}-{r[4:]} ") == r
    tricky = rules.new_receipt(b"\x00\x00\x00\x00\x00\x00", year=2026)  # body 26000000
    assert rules.normalise_receipt(tricky.replace("0", "O")) == tricky


@pytest.mark.parametrize("text", ["", None, "26ABC", "AB1234567", "26ABCDEFGHJ", "26ABCDEF!", "2612345"])
def test_not_receipts(text):
    assert not rules.receipt_ok(text)


# ---------------------------------------------------------------- snapshot hash

def test_content_hash_is_canonical():
    a = {"notice": {"title": "金星村公示", "ends_on": "2026-03-08"}, "items": [{"display_name": "王*明", "line_fen": 1}]}
    b = {"items": [{"line_fen": 1, "display_name": "王*明"}], "notice": {"ends_on": "2026-03-08", "title": "金星村公示"}}
    assert rules.content_hash(a) == rules.content_hash(b)
    assert len(rules.content_hash(a)) == 64
    c = {"notice": a["notice"], "items": [{"display_name": "王*明", "line_fen": 2}]}
    assert rules.content_hash(c) != rules.content_hash(a)


def test_snapshot_item_keeps_only_public_fields():
    item = rules.snapshot_item({"display_name": "王*明", "grade": "good", "line_fen": 10_000_000, "head_name": "王小明",
                                "id_number": "11010519491231002X", "phone": "13812345678", "final_score": "84"})
    assert set(item) == set(rules.SNAPSHOT_ITEM_FIELDS)
    assert not set(item) & rules.FORBIDDEN_ITEM_KEYS
    assert "王小明" not in str(item) and "13812345678" not in str(item)


# ---------------------------------------------------------------- private notices (N-5)

@pytest.mark.parametrize("vetoes,score,grade,reasons", [
    (["vice"], "85.0", "not_rated", ["vice"]),
    (["arrears", "arrears", "usurer"], "40", "not_rated", ["arrears", "usurer"]),
    ([], "59.9", "not_rated", ["below_60"]),
    ([], "60", "not_rated", ["not_rated"]),    # the approver decided
    (None, None, "not_rated", ["not_rated"]),
    ([], "75", "fair", []),
])
def test_private_reasons(vetoes, score, grade, reasons):
    assert rules.private_reasons(vetoes, score, grade) == reasons


def test_every_reason_has_words():
    from fieldapp.ratings.rules import FILE_VETOES, COMMITTEE_VETOES
    for code in (*FILE_VETOES, *COMMITTEE_VETOES, "below_60", "not_rated"):
        assert code in rules.PRIVATE_REASON_LABELS


# ---------------------------------------------------------------- printed words

def test_amendment_note():
    assert rules.amendment_note("good", 10_000_000, "fair", 5_000_000) == \
        "原公示：较好，授信10万元；更正为：一般，授信5万元"
    assert "5.5万元" in rules.amendment_note("good", 10_000_000, "fair", 5_500_000)


def test_titles_and_second_language():
    assert rules.default_title("金星村") == "金星村农户信用评级授信结果公示"
    assert "补充公示" in rules.default_title("金星村", supplement=True)
    assert rules.second_language("mn")["title"]
    assert rules.second_language("MN ") == rules.second_language("mn")
    assert rules.second_language(None) is None and rules.second_language("xx") is None
