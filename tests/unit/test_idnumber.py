"""Unit tests for fieldapp.core.idnumber (resident ID, USCC, mobile)."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldapp.core.idnumber import (
    MESSAGES_ZH,
    MOBILE_MESSAGES_ZH,
    USCC_CHARSET,
    USCC_MESSAGES_ZH,
    IdInfo,
    IdNumberError,
    MobileError,
    UsccError,
    age_on,
    birth_matches,
    check_char,
    is_valid_id_number,
    is_valid_mobile,
    is_valid_uscc,
    normalise_mobile,
    parse_id_number,
    parse_uscc,
    sex_matches,
    uscc_check_char,
)

TODAY = date(2025, 6, 1)


def iso7064_mod11_2_ok(number: str) -> bool:
    """Independent oracle: ISO 7064 MOD 11-2 over all 18 characters, weights 2^(17-i) mod 11."""
    values = [10 if c == "X" else int(c) for c in number]
    return sum(v * pow(2, 17 - i, 11) for i, v in enumerate(values)) % 11 == 1


def gb32100_ok(code: str) -> bool:
    """Independent oracle: weights 3^i mod 31 over 17 chars plus the check value sum to 0 mod 31."""
    values = [USCC_CHARSET.index(c) for c in code]
    return (sum(v * pow(3, i, 31) for i, v in enumerate(values[:17])) + values[17]) % 31 == 0


# --------------------------------------------------------------------------- #
# check_char
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("first17", "expected"),
    [
        pytest.param("11010519491231002", "X", id="domain-example-X"),
        pytest.param("13050319670401001", "6", id="hand-computed-6"),
        pytest.param("44030619880808123", "0", id="check-0"),
        pytest.param("11010520000229001", "3", id="check-3"),
        pytest.param("00000000000000000", "1", id="all-zero-sum0-maps-to-1"),
    ],
)
def test_check_char(first17, expected):
    assert check_char(first17) == expected
    assert iso7064_mod11_2_ok(first17 + expected)


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("1101051949123100", id="16-chars"),
        pytest.param("110105194912310021", id="18-chars"),
        pytest.param("1101051949123100A", id="letter"),
    ],
)
def test_check_char_rejects_bad_prefix(bad):
    with pytest.raises(ValueError):
        check_char(bad)


# --------------------------------------------------------------------------- #
# parse_id_number: valid numbers
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("raw", "number", "birth", "sex", "region", "upgraded"),
    [
        pytest.param(
            "11010519491231002X", "11010519491231002X", date(1949, 12, 31), "F", "110105", False,
            id="domain-example",
        ),
        pytest.param(
            "11010519491231002x", "11010519491231002X", date(1949, 12, 31), "F", "110105", False,
            id="lowercase-x",
        ),
        pytest.param(
            "  11010519491231002x\t\n", "11010519491231002X", date(1949, 12, 31), "F", "110105", False,
            id="surrounding-whitespace",
        ),
        pytest.param(
            "１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X", date(1949, 12, 31), "F", "110105", False,
            id="full-width-input",
        ),
        pytest.param(
            "440306198808081230", "440306198808081230", date(1988, 8, 8), "M", "440306", False,
            id="male-odd-17th-digit",
        ),
        pytest.param(
            "110105200002290013", "110105200002290013", date(2000, 2, 29), "M", "110105", False,
            id="feb29-leap-2000",
        ),
        pytest.param(
            "11010520240229002X", "11010520240229002X", date(2024, 2, 29), "F", "110105", False,
            id="feb29-leap-2024",
        ),
        pytest.param(
            "110105190001010028", "110105190001010028", date(1900, 1, 1), "F", "110105", False,
            id="earliest-1900-01-01",
        ),
        pytest.param(
            "110105202506010010", "110105202506010010", date(2025, 6, 1), "M", "110105", False,
            id="born-today",
        ),
        # 15-digit legacy numbers: the 18-digit literals were worked out by hand (weights x digits, mod 11)
        # and agree with the ISO 7064 oracle; the first one is the domain.md example.
        pytest.param(
            "110105491231002", "11010519491231002X", date(1949, 12, 31), "F", "110105", True,
            id="15-digit-upgrade-X",
        ),
        pytest.param(
            " 130503670401001 ", "130503196704010016", date(1967, 4, 1), "M", "130503", True,
            id="15-digit-upgrade-6",
        ),
    ],
)
def test_parse_valid(raw, number, birth, sex, region, upgraded):
    info = parse_id_number(raw, TODAY)
    assert info == IdInfo(
        number=number, birth_date=birth, sex=sex, region_code=region, upgraded_from_15=upgraded
    )
    assert iso7064_mod11_2_ok(info.number)
    assert is_valid_id_number(raw, TODAY)


def test_idinfo_is_frozen():
    info = parse_id_number("11010519491231002X", TODAY)
    with pytest.raises(AttributeError):
        info.sex = "M"  # type: ignore[misc]


# --------------------------------------------------------------------------- #
# parse_id_number: every error code
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("raw", "today", "code"),
    [
        pytest.param("", TODAY, "empty", id="empty"),
        pytest.param("   ", TODAY, "empty", id="blank"),
        pytest.param(None, TODAY, "empty", id="none"),
        pytest.param("1101051949123100", TODAY, "length", id="16-chars"),
        pytest.param("11010519491231002X1", TODAY, "length", id="19-chars"),
        pytest.param("11010549123100", TODAY, "length", id="14-chars"),
        pytest.param("1101051949123100XX", TODAY, "chars", id="x-in-17th-position"),
        pytest.param("11010519491231002Y", TODAY, "chars", id="bad-last-char"),
        pytest.param("110105 9491231002X", TODAY, "chars", id="inner-space"),
        pytest.param("11010549123100X", TODAY, "chars", id="15-digit-with-x"),
        pytest.param("110105190002290017", TODAY, "birth_date", id="feb29-1900-not-leap"),
        pytest.param("110105199902300015", TODAY, "birth_date", id="feb30"),
        pytest.param("110105199913010013", TODAY, "birth_date", id="month-13"),
        pytest.param("110105990229001", TODAY, "birth_date", id="15-digit-feb29-1999"),
        pytest.param("110105202506020016", TODAY, "future_birth", id="born-tomorrow"),
        pytest.param("11010520300101001X", TODAY, "future_birth", id="born-2030"),
        pytest.param("110105202506010010", date(2025, 5, 31), "future_birth", id="relative-to-today"),
        pytest.param("110105189912310015", TODAY, "too_old", id="born-1899"),
        pytest.param("110105194912310021", TODAY, "check_digit", id="wrong-check-digit"),
        pytest.param("110105194912310020", TODAY, "check_digit", id="digit-instead-of-X"),
        pytest.param("44030619880808123X", TODAY, "check_digit", id="X-instead-of-digit"),
        pytest.param("11010519491213002X", TODAY, "check_digit", id="transposed-digits"),
    ],
)
def test_parse_errors(raw, today, code):
    with pytest.raises(IdNumberError) as excinfo:
        parse_id_number(raw, today)
    err = excinfo.value
    assert err.code == code
    assert isinstance(err, ValueError)
    assert err.message_en and str(err) == err.message_en
    assert err.message_zh == MESSAGES_ZH[code]
    assert not is_valid_id_number(raw, today)


def test_messages_zh_covers_exactly_the_codes():
    assert set(MESSAGES_ZH) == {
        "empty", "length", "chars", "birth_date", "future_birth", "too_old", "check_digit",
    }
    assert MESSAGES_ZH["check_digit"] == "身份证号码校验位错误，请核对最后一位"


def test_unknown_error_code_rejected():
    with pytest.raises(ValueError):
        IdNumberError("nonsense")


# --------------------------------------------------------------------------- #
# age_on / sex_matches / birth_matches
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("birth", "day", "age"),
    [
        pytest.param(date(1949, 12, 31), date(2025, 6, 1), 75, id="before-birthday"),
        pytest.param(date(1949, 12, 31), date(2025, 12, 31), 76, id="on-birthday"),
        pytest.param(date(2007, 6, 2), date(2025, 6, 1), 17, id="day-before-18"),
        pytest.param(date(2007, 6, 1), date(2025, 6, 1), 18, id="turns-18-today"),
        pytest.param(date(2000, 2, 29), date(2018, 2, 28), 17, id="feb29-non-leap-feb28"),
        pytest.param(date(2000, 2, 29), date(2018, 3, 1), 18, id="feb29-non-leap-mar1"),
        pytest.param(date(2000, 2, 29), date(2024, 2, 29), 24, id="feb29-leap-birthday"),
        pytest.param(date(2025, 6, 1), date(2025, 6, 1), 0, id="newborn"),
    ],
)
def test_age_on(birth, day, age):
    assert age_on(birth, day) == age


def test_age_on_rejects_day_before_birth():
    with pytest.raises(ValueError):
        age_on(date(2000, 1, 2), date(2000, 1, 1))


@pytest.mark.parametrize(
    ("raw", "sex", "expected"),
    [
        pytest.param("11010519491231002X", "F", True, id="female-F"),
        pytest.param("11010519491231002X", "女", True, id="female-zh"),
        pytest.param("11010519491231002X", "f", True, id="female-lower"),
        pytest.param("11010519491231002X", "M", False, id="female-vs-M"),
        pytest.param("440306198808081230", "M", True, id="male-M"),
        pytest.param("440306198808081230", "男", True, id="male-zh"),
        pytest.param("440306198808081230", "F", False, id="male-vs-F"),
        pytest.param("440306198808081230", "", False, id="empty-sex"),
        pytest.param("440306198808081230", "?", False, id="unknown-sex"),
    ],
)
def test_sex_matches(raw, sex, expected):
    assert sex_matches(parse_id_number(raw, TODAY), sex) is expected


@pytest.mark.parametrize(
    ("birth", "expected"),
    [
        pytest.param(date(1949, 12, 31), True, id="same"),
        pytest.param(date(1949, 12, 30), False, id="off-by-one-day"),
        pytest.param(date(1950, 12, 31), False, id="other-year"),
    ],
)
def test_birth_matches(birth, expected):
    assert birth_matches(parse_id_number("11010519491231002X", TODAY), birth) is expected


# --------------------------------------------------------------------------- #
# USCC
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("first17", "expected"),
    [
        pytest.param("91350100M000100Y4", "3", id="domain-example"),
        pytest.param("91110000600037341", "L", id="letter-check"),
    ],
)
def test_uscc_check_char(first17, expected):
    assert uscc_check_char(first17) == expected
    assert gb32100_ok(first17 + expected)


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("91350100M000100Y", id="16-chars"),
        pytest.param("91350100I000100Y4", id="forbidden-I"),
        pytest.param("91350100m000100Y4", id="lowercase"),
    ],
)
def test_uscc_check_char_rejects_bad_prefix(bad):
    with pytest.raises(ValueError):
        uscc_check_char(bad)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("91350100M000100Y43", "91350100M000100Y43", id="domain-example"),
        pytest.param(" 91350100m000100y43 ", "91350100M000100Y43", id="lowercase-and-spaces"),
        pytest.param("91110000600037341L", "91110000600037341L", id="letter-check"),
    ],
)
def test_parse_uscc_valid(raw, expected):
    assert parse_uscc(raw) == expected
    assert is_valid_uscc(raw)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("  ", "empty", id="blank"),
        pytest.param("91350100M000100Y4", "length", id="17-chars"),
        pytest.param("91350100M000100Y433", "length", id="19-chars"),
        pytest.param("91350100O000100Y43", "chars", id="forbidden-O"),
        pytest.param("91350100M000100Y4Z", "chars", id="forbidden-Z"),
        pytest.param("91350100M000100Y4-", "chars", id="punctuation"),
        pytest.param("91350100M000100Y44", "check_digit", id="wrong-check"),
        pytest.param("91350100M000010Y43", "check_digit", id="transposed"),
    ],
)
def test_parse_uscc_errors(raw, code):
    with pytest.raises(UsccError) as excinfo:
        parse_uscc(raw)
    assert excinfo.value.code == code
    assert isinstance(excinfo.value, ValueError)
    assert excinfo.value.message_zh == USCC_MESSAGES_ZH[code]
    assert not is_valid_uscc(raw)


# --------------------------------------------------------------------------- #
# Mobile
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("13812345678", "13812345678", id="plain"),
        pytest.param(" 138 1234 5678 ", "13812345678", id="spaces"),
        pytest.param("138-1234-5678", "13812345678", id="dashes"),
        pytest.param("+86 138 1234 5678", "13812345678", id="plus86"),
        pytest.param("+86-13812345678", "13812345678", id="plus86-dash"),
        pytest.param("8613812345678", "13812345678", id="86-prefix"),
        pytest.param("１３８１２３４５６７８", "13812345678", id="full-width"),
        pytest.param("19912345678", "19912345678", id="199-range"),
    ],
)
def test_normalise_mobile_valid(raw, expected):
    assert normalise_mobile(raw) == expected
    assert is_valid_mobile(raw)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param(" - ", "empty", id="only-separators"),
        pytest.param("1381234567", "format", id="10-digits"),
        pytest.param("138123456789", "format", id="12-digits"),
        pytest.param("23812345678", "format", id="starts-with-2"),
        pytest.param("0591-87654321", "format", id="landline"),
        pytest.param("138l2345678", "format", id="letter-l"),
        pytest.param("+8623812345678", "format", id="plus86-bad-rest"),
        pytest.param("86138123456", "format", id="86-prefix-too-short"),
    ],
)
def test_normalise_mobile_errors(raw, code):
    with pytest.raises(MobileError) as excinfo:
        normalise_mobile(raw)
    assert excinfo.value.code == code
    assert excinfo.value.message_zh == MOBILE_MESSAGES_ZH[code]
    assert not is_valid_mobile(raw)


# --------------------------------------------------------------------------- #
# Property tests
# --------------------------------------------------------------------------- #

_region = st.text(alphabet="0123456789", min_size=6, max_size=6)
_birth = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)
_seq = st.integers(min_value=0, max_value=999)


@given(region=_region, birth=_birth, seq=_seq, lower=st.booleans())
def test_property_any_valid_prefix_parses(region, birth, seq, lower):
    first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
    number = first17 + check_char(first17)
    assert iso7064_mod11_2_ok(number)
    info = parse_id_number(number.lower() if lower else number, TODAY)
    assert info.number == number
    assert info.birth_date == birth
    assert info.region_code == region
    assert info.sex == ("M" if seq % 2 else "F")
    assert not info.upgraded_from_15


@given(region=_region, birth=_birth, seq=_seq, wrong=st.sampled_from("0123456789X"))
def test_property_any_other_check_char_fails(region, birth, seq, wrong):
    first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
    if wrong == check_char(first17):
        return
    with pytest.raises(IdNumberError) as excinfo:
        parse_id_number(first17 + wrong, TODAY)
    assert excinfo.value.code == "check_digit"


@given(
    region=_region,
    birth=st.dates(min_value=date(1900, 1, 1), max_value=date(1999, 12, 31)),
    seq=_seq,
)
def test_property_15_digit_upgrade(region, birth, seq):
    legacy = f"{region}{birth:%y%m%d}{seq:03d}"
    info = parse_id_number(legacy, TODAY)
    assert info.upgraded_from_15
    assert info.number[:6] + info.number[8:17] == legacy
    assert info.number[6:8] == "19"
    assert iso7064_mod11_2_ok(info.number)
    assert info.birth_date == birth


@given(body=st.text(alphabet=USCC_CHARSET, min_size=17, max_size=17))
def test_property_uscc_roundtrip(body):
    code = body + uscc_check_char(body)
    assert gb32100_ok(code)
    assert parse_uscc(code.lower()) == code


@given(day=st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)), years=st.integers(0, 120))
def test_property_age_on_birthday_anniversary(day, years):
    try:
        anniversary = day.replace(year=day.year + years)
    except ValueError:  # 29 Feb in a non-leap year
        anniversary = date(day.year + years, 3, 1)
    assert age_on(day, anniversary) == years
    if anniversary > day:
        assert age_on(day, anniversary - timedelta(days=1)) == years - 1
