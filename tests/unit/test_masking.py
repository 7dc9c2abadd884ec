"""Unit tests for fieldapp.core.masking."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldapp.core.masking import mask_id_number, mask_name, mask_phone


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("", "", id="empty"),
        pytest.param("   ", "", id="blank"),
        pytest.param(None, "", id="none"),
        pytest.param("王", "王", id="1-char-unchanged"),
        pytest.param("王明", "王*", id="2-chars"),
        pytest.param(" 王明 ", "王*", id="2-chars-stripped"),
        pytest.param("王小明", "王*明", id="3-chars"),
        pytest.param("欧阳小明", "欧**明", id="4-chars"),
        pytest.param("额尔德尼雅", "额***雅", id="5-chars"),
        pytest.param("阿依古丽·买买提", "阿***·**提", id="middle-dot-name"),
        pytest.param("买买提·艾力·吐尔逊", "买**·**·**逊", id="two-middle-dots"),
        pytest.param("阿依·买", "阿*·买", id="dot-name-3-letters"),
        pytest.param("阿·买", "阿·*", id="dot-name-2-letters-keeps-surname-only"),
        pytest.param("阿依古丽•买买提", "阿***•**提", id="bullet-variant-dot"),
        pytest.param("阿依古丽・买买提", "阿***・**提", id="katakana-middle-dot"),
        pytest.param("Li Ming", "L* ***g", id="latin-with-space"),
    ],
)
def test_mask_name(name, expected):
    assert mask_name(name) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("11010519491231002X", "110105********002X", id="18-digit"),
        pytest.param(" 11010519491231002x ", "110105********002X", id="18-digit-lower-x-spaces"),
        pytest.param("440306198808081230", "440306********1230", id="18-digit-numeric"),
        pytest.param("110105491231002", "110105*****1002", id="15-digit"),
        pytest.param("", "", id="empty"),
        pytest.param(None, "", id="none"),
        pytest.param("12345", "*****", id="short-garbage"),
        pytest.param("1101051949123100", "****************", id="16-digits"),
        pytest.param("11010519491231002Y", "******************", id="18-bad-last"),
        pytest.param("110105 9491231002X", "******************", id="18-with-space"),
        pytest.param("张三的身份证", "******", id="non-digits"),
    ],
)
def test_mask_id_number(raw, expected):
    assert mask_id_number(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("13812341234", "138****1234", id="mobile"),
        pytest.param(" 138-1234-1234 ", "138****1234", id="mobile-dashes"),
        pytest.param("+86 138 1234 1234", "138****1234", id="mobile-plus86"),
        pytest.param("0591-87654321", "*********4321", id="landline"),
        pytest.param("87654321", "****4321", id="8-digit"),
        pytest.param("12345", "*2345", id="5-digit"),
        pytest.param("1234", "****", id="4-digit-all-masked"),
        pytest.param("12", "**", id="2-digit-all-masked"),
        pytest.param("", "", id="empty"),
        pytest.param(None, "", id="none"),
    ],
)
def test_mask_phone(raw, expected):
    assert mask_phone(raw) == expected


# --------------------------------------------------------------------------- #
# Property tests
# --------------------------------------------------------------------------- #

_hanzi = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)


@given(name=st.text(alphabet=_hanzi, min_size=2, max_size=12))
def test_property_mask_name_never_returns_full_name(name):
    masked = mask_name(name)
    assert masked != name
    assert len(masked) == len(name)
    assert masked[0] == name[0]
    assert masked.count("*") == (len(name) - 1 if len(name) == 2 else len(name) - 2)


@given(parts=st.lists(st.text(alphabet=_hanzi, min_size=1, max_size=5), min_size=2, max_size=4))
def test_property_mask_dotted_name_never_returns_full_name(parts):
    name = "·".join(parts)
    masked = mask_name(name)
    assert masked != name
    assert masked.count("·") == name.count("·")
    assert [i for i, c in enumerate(masked) if c == "·"] == [i for i, c in enumerate(name) if c == "·"]


@given(number=st.text(alphabet="0123456789", min_size=17, max_size=17), last=st.sampled_from("0123456789X"))
def test_property_masked_id_hides_middle_eight(number, last):
    raw = number + last
    masked = mask_id_number(raw)
    assert len(masked) == 18
    assert raw[6:14] not in masked
    assert masked[6:14] == "*" * 8


@given(raw=st.text(max_size=30))
def test_property_mask_id_never_leaks_more_than_ten_chars(raw):
    masked = mask_id_number(raw)
    assert sum(c != "*" for c in masked) <= 10
