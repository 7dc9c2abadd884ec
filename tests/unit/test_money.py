"""Unit tests for fieldapp.core.money."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldapp.core.money import (
    MESSAGES_ZH,
    MoneyError,
    floor_to,
    format_wan,
    format_yuan,
    from_fen,
    parse_yuan,
    round_yuan,
    simple_interest,
    to_fen,
)

D = Decimal

# --------------------------------------------------------------------------- #
# to_fen / from_fen
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("yuan", "fen"),
    [
        pytest.param(D("12345.67"), 1234567, id="decimal"),
        pytest.param("12345.67", 1234567, id="str"),
        pytest.param(" 1.5 ", 150, id="str-spaces"),
        pytest.param(5, 500, id="int"),
        pytest.param(0, 0, id="zero"),
        pytest.param(D("1.005"), 101, id="half-up-1.005"),
        pytest.param(D("1.004"), 100, id="below-half"),
        pytest.param(D("0.025"), 3, id="half-up-not-half-even"),
        pytest.param(D("2.675"), 268, id="2.675-exact-decimal"),
        pytest.param(D("-1.005"), -101, id="negative-half-away-from-zero"),
        pytest.param(D("1E+3"), 100000, id="exponent-form"),
        pytest.param(D("1000000000000"), 100000000000000, id="10^12-yuan"),
        pytest.param(D("123456789012345678901234567890.125"), 12345678901234567890123456789013, id="beyond-default-prec"),
    ],
)
def test_to_fen(yuan, fen):
    result = to_fen(yuan)
    assert result == fen
    assert type(result) is int


@pytest.mark.parametrize(
    ("value", "exc"),
    [
        pytest.param(1.0, TypeError, id="float"),
        pytest.param(0.1, TypeError, id="float-0.1"),
        pytest.param(True, TypeError, id="bool"),
        pytest.param(None, TypeError, id="none"),
        pytest.param([1], TypeError, id="list"),
        pytest.param(D("NaN"), ValueError, id="nan"),
        pytest.param(D("sNaN"), ValueError, id="snan"),
        pytest.param(D("Infinity"), ValueError, id="inf"),
        pytest.param(D("-Infinity"), ValueError, id="minus-inf"),
        pytest.param("NaN", ValueError, id="str-nan"),
        pytest.param("inf", ValueError, id="str-inf"),
        pytest.param("abc", ValueError, id="str-garbage"),
    ],
)
def test_to_fen_rejects(value, exc):
    with pytest.raises(exc):
        to_fen(value)


@pytest.mark.parametrize(
    ("fen", "text"),
    [
        pytest.param(0, "0.00", id="zero"),
        pytest.param(1, "0.01", id="one-fen"),
        pytest.param(100, "1.00", id="one-yuan"),
        pytest.param(123456, "1234.56", id="plain"),
        pytest.param(-5, "-0.05", id="negative"),
        pytest.param(100000000000000, "1000000000000.00", id="10^12-yuan"),
    ],
)
def test_from_fen(fen, text):
    result = from_fen(fen)
    assert isinstance(result, Decimal)
    assert str(result) == text
    assert result.as_tuple().exponent == -2


@pytest.mark.parametrize(
    "value",
    [pytest.param(1.0, id="float"), pytest.param(True, id="bool"), pytest.param("100", id="str")],
)
def test_from_fen_rejects_non_int(value):
    with pytest.raises(TypeError):
        from_fen(value)


# --------------------------------------------------------------------------- #
# parse_yuan
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("1,234.5", "1234.50", id="thousands-comma"),
        pytest.param("1234.50", "1234.50", id="plain-2dp"),
        pytest.param("1,234,567.89", "1234567.89", id="two-commas"),
        pytest.param("１２３", "123.00", id="full-width-digits"),
        pytest.param("１，２３４．５", "1234.50", id="full-width-comma-and-point"),
        pytest.param("5万", "50000.00", id="wan"),
        pytest.param("5万元", "50000.00", id="wan-yuan"),
        pytest.param("1.2万", "12000.00", id="decimal-wan"),
        pytest.param("1.23456万", "12345.60", id="wan-4dp-ok"),
        pytest.param("1.234567万", "12345.67", id="wan-6dp-ok"),
        pytest.param("5 万", "50000.00", id="space-before-wan"),
        pytest.param("100元", "100.00", id="yuan-suffix"),
        pytest.param("  12.3  ", "12.30", id="surrounding-spaces"),
        pytest.param("\u300012.3\u3000", "12.30", id="ideographic-spaces"),
        pytest.param("¥1,000", "1000.00", id="yen-sign"),
        pytest.param("￥1,000", "1000.00", id="full-width-yen-sign"),
        pytest.param("+5", "5.00", id="plus-sign"),
        pytest.param("0", "0.00", id="zero"),
        pytest.param(".5", "0.50", id="leading-point"),
        pytest.param("5.", "5.00", id="trailing-point"),
        pytest.param("1.230", "1.23", id="trailing-zero-3dp-ok"),
        pytest.param("1000000000000", "1000000000000.00", id="exactly-10^12"),
        pytest.param("100000000万", "1000000000000.00", id="exactly-10^12-in-wan"),
    ],
)
def test_parse_yuan(text, expected):
    result = parse_yuan(text)
    assert str(result) == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("   ", "empty", id="blank"),
        pytest.param(None, "empty", id="none"),
        pytest.param("abc", "format", id="letters"),
        pytest.param("1,23", "format", id="bad-grouping"),
        pytest.param("1,0000", "format", id="grouping-of-4"),
        pytest.param("12,34.5", "format", id="bad-grouping-with-decimals"),
        pytest.param("1.2.3", "format", id="two-points"),
        pytest.param("5千", "format", id="unsupported-unit"),
        pytest.param("万", "format", id="unit-only"),
        pytest.param("5万万", "format", id="double-unit"),
        pytest.param("1e5", "format", id="exponent"),
        pytest.param("NaN", "format", id="nan"),
        pytest.param("--5", "format", id="double-minus"),
        pytest.param("-", "format", id="sign-only"),
        pytest.param("-5", "negative", id="negative"),
        pytest.param("\u22125", "negative", id="unicode-minus"),
        pytest.param("-5万", "negative", id="negative-wan"),
        pytest.param("1.234", "too_many_decimals", id="3dp"),
        pytest.param("0.001", "too_many_decimals", id="tenth-of-fen"),
        pytest.param("1.2345678万", "too_many_decimals", id="wan-7dp"),
        pytest.param("1000000000000.01", "too_large", id="just-over-10^12"),
        pytest.param("100000001万", "too_large", id="over-10^12-in-wan"),
        pytest.param("9" * 40, "too_large", id="40-digits"),
    ],
)
def test_parse_yuan_errors(text, code):
    with pytest.raises(MoneyError) as excinfo:
        parse_yuan(text)
    err = excinfo.value
    assert err.code == code
    assert isinstance(err, ValueError)
    assert err.message_zh == MESSAGES_ZH[code]


def test_money_messages_cover_exactly_the_codes():
    assert set(MESSAGES_ZH) == {"empty", "format", "negative", "too_many_decimals", "too_large"}


# --------------------------------------------------------------------------- #
# Formatting
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("fen", "text"),
    [
        pytest.param(0, "0.00", id="zero"),
        pytest.param(1, "0.01", id="one-fen"),
        pytest.param(1234500, "12,345.00", id="thousands"),
        pytest.param(99999, "999.99", id="below-thousand"),
        pytest.param(100000000000000, "1,000,000,000,000.00", id="10^12"),
        pytest.param(-123456, "-1,234.56", id="negative"),
    ],
)
def test_format_yuan(fen, text):
    assert format_yuan(fen) == text


@pytest.mark.parametrize(
    ("fen", "text"),
    [
        pytest.param(5_000_000, "5万", id="50000-yuan"),
        pytest.param(1_230_000, "1.23万", id="12300-yuan"),
        pytest.param(1_200_000, "1.2万", id="trailing-zero-stripped"),
        pytest.param(1_234_567, "1.23万", id="rounded-down"),
        pytest.param(1_235_000, "1.24万", id="half-up-1.235"),
        pytest.param(1_225_000, "1.23万", id="half-up-not-half-even-1.225"),
        pytest.param(50_000, "0.05万", id="500-yuan"),
        pytest.param(100, "0万", id="1-yuan-rounds-to-zero"),
        pytest.param(0, "0万", id="zero"),
        pytest.param(100_000_000, "100万", id="one-million-yuan"),
        pytest.param(12_345_600_000_000, "12,345,600万", id="grouped"),
        pytest.param(-1_230_000, "-1.23万", id="negative"),
        pytest.param(-100, "0万", id="tiny-negative-no-minus-zero"),
    ],
)
def test_format_wan(fen, text):
    assert format_wan(fen) == text


# --------------------------------------------------------------------------- #
# Rounding helpers
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        pytest.param(D("2.675"), 2, D("2.68"), id="2.675"),
        pytest.param(D("2.665"), 2, D("2.67"), id="half-up-not-half-even"),
        pytest.param(D("2.664"), 2, D("2.66"), id="below-half"),
        pytest.param(D("-2.675"), 2, D("-2.68"), id="negative-away-from-zero"),
        pytest.param(D("2.5"), 0, D("3"), id="places-0"),
        pytest.param(D("0.04355"), 4, D("0.0436"), id="places-4"),
        pytest.param(D("7"), 2, D("7.00"), id="pads"),
    ],
)
def test_round_yuan(value, places, expected):
    result = round_yuan(value, places)
    assert result == expected
    assert result.as_tuple().exponent == -places


def test_round_yuan_default_places():
    assert str(round_yuan(D("1.005"))) == "1.01"


def test_round_yuan_rejects_float():
    with pytest.raises(TypeError):
        round_yuan(2.675)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "step", "expected"),
    [
        pytest.param(D("123456.78"), D("1000"), D("123000"), id="credit-line-to-1000"),
        pytest.param(D("999.99"), D("1000"), D("0"), id="below-step"),
        pytest.param(D("5000"), D("1000"), D("5000"), id="exact-multiple"),
        pytest.param(D("12345.67"), D("0.5"), D("12345.5"), id="fractional-step"),
        pytest.param(D("87654"), D("10000"), D("80000"), id="to-wan"),
        pytest.param(D("-1500"), D("1000"), D("-2000"), id="negative-floors-down"),
        pytest.param(D("2500"), 1000, D("2000"), id="int-step"),
    ],
)
def test_floor_to(value, step, expected):
    assert floor_to(value, step) == expected


@pytest.mark.parametrize(
    ("step", "exc"),
    [
        pytest.param(D("0"), ValueError, id="zero-step"),
        pytest.param(D("-1000"), ValueError, id="negative-step"),
        pytest.param(1000.0, TypeError, id="float-step"),
    ],
)
def test_floor_to_rejects(step, exc):
    with pytest.raises(exc):
        floor_to(D("1234"), step)


# --------------------------------------------------------------------------- #
# Interest
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("principal", "rate", "days", "expected"),
    [
        # Seed 001: 4.35% x 50,000 yuan = 2,175 yuan for a 360-day year.
        pytest.param(5_000_000, D("0.0435"), 360, 217_500, id="seed-2175-yuan"),
        pytest.param(5_000_000, D("0.0435"), 365, 220_521, id="actual-365-days"),
        pytest.param(5_000_000, D("0.1116"), 30, 46_500, id="monthly-9.3-permille"),
        pytest.param(10_000, D("0.036"), 1, 1, id="one-fen"),
        pytest.param(100_000, D("0.0018"), 1, 1, id="exactly-half-fen-rounds-up"),
        pytest.param(100, D("0.018"), 1, 0, id="below-half-fen"),
        pytest.param(5_000_000, D("0.0435"), 0, 0, id="zero-days"),
        pytest.param(0, D("0.0435"), 30, 0, id="zero-principal"),
    ],
)
def test_simple_interest(principal, rate, days, expected):
    result = simple_interest(principal, rate, days)
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize(
    ("principal", "rate", "days", "exc"),
    [
        pytest.param(5_000_000, 0.0435, 30, TypeError, id="float-rate"),
        pytest.param(5_000_000.0, D("0.0435"), 30, TypeError, id="float-principal"),
        pytest.param(5_000_000, D("0.0435"), 30.0, TypeError, id="float-days"),
        pytest.param(5_000_000, D("0.0435"), -1, ValueError, id="negative-days"),
        pytest.param(5_000_000, D("NaN"), 30, ValueError, id="nan-rate"),
    ],
)
def test_simple_interest_rejects(principal, rate, days, exc):
    with pytest.raises(exc):
        simple_interest(principal, rate, days)


# --------------------------------------------------------------------------- #
# Property tests
# --------------------------------------------------------------------------- #

_fen = st.integers(min_value=-(10**16), max_value=10**16)


@given(fen=_fen)
def test_property_fen_roundtrip(fen):
    assert to_fen(from_fen(fen)) == fen


@given(fen=st.integers(min_value=0, max_value=10**14))
def test_property_format_then_parse_roundtrip(fen):
    assert parse_yuan(format_yuan(fen)) == from_fen(fen)
    assert to_fen(parse_yuan(format_yuan(fen))) == fen


@given(d=st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**12), max_value=10**12, places=6))
def test_property_to_fen_matches_round_yuan(d):
    assert from_fen(to_fen(d)) == round_yuan(d)
    assert abs(from_fen(to_fen(d)) - d) <= D("0.005")


@given(
    d=st.decimals(allow_nan=False, allow_infinity=False, min_value=0, max_value=10**9, places=2),
    step=st.sampled_from([D("1"), D("100"), D("1000"), D("10000")]),
)
def test_property_floor_to_is_multiple_not_above(d, step):
    floored = floor_to(d, step)
    assert floored <= d < floored + step
    assert floored % step == 0
