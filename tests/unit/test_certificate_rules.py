"""Certificate rules (domain W5, C-0..C-7): tokens, check codes, numbers, the QR URL, lifecycles and validity."""
from __future__ import annotations

import ast
import math
import random
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
import qrcode
import qrcode.constants
from hypothesis import given
from hypothesis import strategies as st

from fieldapp.certificates import rules

AMBIGUOUS = set("0O1IL")


def test_rules_import_no_flask_and_no_database():
    tree = ast.parse((Path(__file__).resolve().parents[2] / "fieldapp/certificates/rules.py").read_text("utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
    banned = {"flask", "flask_babel", "flask_wtf", "sqlalchemy", "qrcode", "..extensions", ".models", "..core.clock"}
    assert not {name for name in imported if name.split(".")[0] in banned or name in banned}, imported


# ---------------------------------------------------------------- tokens and check codes

def test_the_alphabet_has_no_ambiguous_characters_and_tokens_carry_128_bits():
    assert not AMBIGUOUS & set(rules.ALPHABET)
    assert len(set(rules.ALPHABET)) == len(rules.ALPHABET) == 31
    assert rules.ALPHABET == rules.ALPHABET.upper()
    assert rules.token_bits() >= 128
    assert rules.TOKEN_LENGTH * math.log2(31) == pytest.approx(rules.token_bits())


def test_new_tokens_are_fixed_length_upper_case_from_the_alphabet_and_all_different():
    tokens = [rules.new_token() for _ in range(2000)]
    assert len(set(tokens)) == len(tokens)
    assert all(len(t) == rules.TOKEN_LENGTH and set(t) <= set(rules.ALPHABET) for t in tokens)
    # every symbol is used, none much more often than the others (26 x 2000 draws over 31 symbols)
    counts = Counter("".join(tokens))
    assert set(counts) == set(rules.ALPHABET)
    expected = 26 * 2000 / 31
    assert all(abs(n - expected) < 0.1 * expected for n in counts.values())


def test_tokens_follow_the_random_source():
    a, b = random.Random(7), random.Random(7)
    assert rules.new_token(a) == rules.new_token(b)
    assert rules.new_check_code(a) == rules.new_check_code(b)
    assert rules.new_token(random.Random(1)) != rules.new_token(random.Random(2))


def test_check_codes_are_six_symbols_of_the_alphabet():
    codes = {rules.new_check_code() for _ in range(500)}
    assert all(len(c) == 6 and set(c) <= set(rules.ALPHABET) for c in codes)
    assert len(codes) > 490


TOKEN = "ABCDEFGHJKMNPQRSTUVWXYZ234"


@pytest.mark.parametrize("text,expected", [
    (TOKEN, TOKEN),
    (TOKEN.lower(), TOKEN),
    (f"  {TOKEN}\n", TOKEN),
    ("ABCDE-FGHJK-MNPQR-STUVW-XYZ23-4", TOKEN),      # typed in groups
    ("abcde fghjk mnpqr stuvw xyz234", TOKEN),
    ("ＡＢＣＤＥＦＧＨＪＫＭＮＰＱＲＳＴＵＶＷＸＹＺ２３４", TOKEN),  # full-width input method
    (TOKEN[:-1], None),                                # too short
    (TOKEN + "5", None),                               # too long
    (TOKEN[:-1] + "0", None),                          # 0 is not in the alphabet
    (TOKEN[:-1] + "O", None),
    (TOKEN[:-1] + "1", None),
    (TOKEN[:-1] + "I", None),
    (TOKEN[:-1] + "L", None),
    (TOKEN[:-1] + "%", None),
    ("", None),
    (None, None),
    (12345, None),
    ("A" * 5000, None),
    ("../../etc/passwd", None),
])
def test_normalise_token(text, expected):
    assert rules.normalise_token(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("ab3k9z", "AB3K9Z"), (" AB3K9Z ", "AB3K9Z"), ("AB3-K9Z", "AB3K9Z"), ("AB3K9", None), ("AB3K9Z2", None),
    ("AB3K90", None), ("", None), (None, None),
])
def test_normalise_check_code(text, expected):
    assert rules.normalise_check_code(text) == expected


@given(st.text(max_size=60))
def test_normalise_token_never_raises_and_only_returns_canonical_tokens(text):
    result = rules.normalise_token(text)
    assert result is None or (len(result) == rules.TOKEN_LENGTH and set(result) <= set(rules.ALPHABET))


# ---------------------------------------------------------------- numbers

@pytest.mark.parametrize("county,branch,year,serial,expected", [
    ("532931", "B01", 2026, 1, "532931-B01-2026-000001"),
    ("532931", "b01", 2026, 42, "532931-B01-2026-000042"),
    ("150782", "BB1", 2027, 999_999, "150782-BB1-2027-999999"),
    ("532931", None, 2026, 7, "532931-0-2026-000007"),
    ("532931", "金华-01 支行", 2026, 7, "532931-01-2026-000007"),
    ("532931", "ABCDEFGHIJKLMNOP", 2026, 7, "532931-ABCDEFGHIJ-2026-000007"),
])
def test_cert_no_format(county, branch, year, serial, expected):
    number = rules.cert_no(county, branch, year, serial)
    assert number == expected and len(number) <= 32
    parsed = rules.parse_cert_no(number)
    assert parsed is not None and (parsed.county, parsed.year, parsed.serial) == (county, year, serial)
    assert str(parsed) == number and rules.serial_of(number) == serial


@pytest.mark.parametrize("county,branch,year,serial", [
    ("53293", "B01", 2026, 1), ("5329311", "B01", 2026, 1), ("53293X", "B01", 2026, 1),
    ("532931", "B01", 99, 1), ("532931", "B01", 2026, 0), ("532931", "B01", 2026, 1_000_000),
    ("532931", "B01", 2026, True),
])
def test_cert_no_refuses_bad_parts(county, branch, year, serial):
    with pytest.raises(ValueError):
        rules.cert_no(county, branch, year, serial)


@pytest.mark.parametrize("text,expected", [
    ("532931-B01-2026-000042", "532931-B01-2026-000042"),
    (" 532931-b01-2026-000042 ", "532931-B01-2026-000042"),
    ("532931－B01－2026－000042", "532931-B01-2026-000042"),   # full-width hyphens
    ("５３２９３１-B01-2026-000042", "532931-B01-2026-000042"),
    ("532931—B01—2026—000042", "532931-B01-2026-000042"),     # em dashes
    ("532931 - B01 - 2026 - 000042", "532931-B01-2026-000042"),
    ("532931-B01-2026-42", None),
    ("532931B012026000042", None),
    ("532931-B01-2026-000000", "532931-B01-2026-000000"),    # well-formed (parse refuses serial 0)
    ("", None), (None, None), ("x" * 500, None),
])
def test_normalise_cert_no(text, expected):
    assert rules.normalise_cert_no(text) == expected


def test_parse_refuses_serial_zero_and_garbage():
    assert rules.parse_cert_no("532931-B01-2026-000000") is None
    assert rules.parse_cert_no("nonsense") is None
    assert rules.serial_of("nonsense") == 0


# ---------------------------------------------------------------- the URL in the QR code

@pytest.mark.parametrize("base,expected", [
    ("http://fieldapp.test", "HTTP://FIELDAPP.TEST/V/" + TOKEN),
    ("https://Credit.Example.cn/", "HTTPS://CREDIT.EXAMPLE.CN/V/" + TOKEN),
    ("https://xyz.bank.cn:8443", "HTTPS://XYZ.BANK.CN:8443/V/" + TOKEN),
])
def test_verify_url_is_upper_case_and_alphanumeric(base, expected):
    url = rules.verify_url(base, TOKEN)
    assert url == expected and rules.is_qr_alphanumeric(url)


def test_verify_url_needs_an_absolute_base():
    with pytest.raises(ValueError):
        rules.verify_url("fieldapp.test", TOKEN)
    assert not rules.is_qr_alphanumeric("http://fieldapp.test/V/" + TOKEN)  # lower case breaks the mode


def _qr(text: str) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(text)
    code.make(fit=True)
    return code


@pytest.mark.parametrize("base", [
    "http://fieldapp.test",
    "https://xyz.cn",
    "https://credit.nongshang.cn",             # 27 characters
    "https://xinyong.jcrcb-bank.com.cn",       # 32 characters
    "https://zhengcun.shouxin.yn.cn:8443",     # 34 characters
])
def test_qr_of_the_verify_url_is_alphanumeric_level_m_version_4_or_less(base):
    for seed in range(20):
        url = rules.verify_url(base, rules.new_token(random.Random(seed)))
        code = _qr(url)
        assert [chunk.mode for chunk in code.data_list] == [qrcode.util.MODE_ALPHA_NUM]
        assert code.version <= 4, (base, code.version)
    # the same URL in lower case would need byte mode and a bigger code
    lower = _qr(url.lower())
    assert lower.version >= code.version and any(c.mode == qrcode.util.MODE_8BIT_BYTE for c in lower.data_list)


# ---------------------------------------------------------------- lifecycles

@pytest.mark.parametrize("current,event,expected", [
    ("issued", "activate", "active"),
    ("issued", "suspend", "suspended"),
    ("active", "suspend", "suspended"),
    ("suspended", "resume", "active"),
    ("active", "expire", "expired"),
    ("suspended", "expire", "expired"),
    ("active", "revoke", "revoked"),
    ("suspended", "revoke", "revoked"),
    ("active", "supersede", "superseded"),
    ("suspended", "supersede", "superseded"),
])
def test_certificate_transitions(current, event, expected):
    assert rules.next_status(current, event) == expected


@pytest.mark.parametrize("current,event", [
    ("active", "activate"), ("active", "resume"), ("suspended", "suspend"), ("expired", "resume"),
    ("expired", "revoke"), ("revoked", "resume"), ("revoked", "supersede"), ("superseded", "resume"),
    ("superseded", "revoke"), ("expired", "supersede"), ("active", "fly"),
])
def test_certificate_transitions_refused(current, event):
    with pytest.raises(rules.TransitionRefused) as info:
        rules.next_status(current, event)
    assert (info.value.current, info.value.event, info.value.kind) == (current, event, "certificate")


@pytest.mark.parametrize("current,event,expected", [
    ("pending", "activate", "active"), ("active", "suspend", "suspended"), ("suspended", "resume", "active"),
    ("active", "expire", "expired"), ("suspended", "revoke", "revoked"), ("pending", "revoke", "revoked"),
])
def test_line_transitions(current, event, expected):
    assert rules.next_status(current, event, "line") == expected


@pytest.mark.parametrize("current,event", [
    ("pending", "suspend"), ("expired", "resume"), ("revoked", "activate"), ("active", "supersede"),
])
def test_line_transitions_refused(current, event):
    with pytest.raises(rules.TransitionRefused):
        rules.next_status(current, event, "line")


def test_final_statuses_allow_nothing():
    for status in ("expired", "revoked", "superseded"):
        assert rules.allowed_events(status) == []
    for status in ("expired", "revoked"):
        assert rules.allowed_events(status, "line") == []
    assert rules.allowed_events("active") == ["suspend", "expire", "revoke", "supersede"]


# ---------------------------------------------------------------- issuing and validity

@pytest.mark.parametrize("status,grade,ok", [
    ("final", "excellent", True), ("final", "good", True), ("final", "fair", True), ("final", "not_rated", False),
    ("approved", "good", False), ("on_notice", "good", False), ("re_notice", "good", False),
    ("expired", "good", False), ("not_rated", "not_rated", False), ("superseded", "good", False),
])
def test_issue_only_for_final_ratings_with_a_grade(status, grade, ok):
    assert rules.may_issue(status, grade) is ok


@pytest.mark.parametrize("issued,years,expected", [
    (date(2026, 3, 14), 3, date(2029, 3, 14)),
    (date(2028, 2, 29), 3, date(2031, 2, 28)),
    (date(2026, 12, 31), 1, date(2027, 12, 31)),
    (date(2026, 1, 31), 3, date(2029, 1, 31)),
])
def test_valid_to_is_three_years_from_issue(issued, years, expected):
    assert rules.valid_to(issued, years) == expected


@pytest.mark.parametrize("day,months,expected", [
    (date(2026, 1, 31), 1, date(2026, 2, 28)), (date(2026, 8, 31), 1, date(2026, 9, 30)),
    (date(2026, 11, 15), 2, date(2027, 1, 15)), (date(2026, 5, 1), 12, date(2027, 5, 1)),
    (date(2026, 3, 31), -1, date(2026, 2, 28)),
])
def test_add_months(day, months, expected):
    assert rules.add_months(day, months) == expected


def test_reconfirm_dates_never_pass_the_line():
    line_end = date(2029, 3, 14)
    assert rules.reconfirm_by(date(2027, 3, 14), line_end, date(2026, 3, 14)) == date(2027, 3, 14)
    assert rules.reconfirm_by(None, line_end, date(2026, 3, 14)) == date(2027, 3, 14)
    assert rules.reconfirm_by(date(2030, 1, 1), line_end, date(2026, 3, 14)) == line_end
    assert rules.reconfirmed_until(date(2027, 3, 1), line_end) == date(2028, 3, 1)
    assert rules.reconfirmed_until(date(2028, 9, 1), line_end) == line_end


VALID_TO = date(2029, 3, 14)
RECONFIRM = date(2027, 3, 14)


@pytest.mark.parametrize("status,category,today,expected", [
    ("active", None, date(2026, 6, 1), None),
    ("active", None, RECONFIRM, None),                                  # the last day of the year is still fine
    ("active", None, date(2027, 3, 15), ("suspend", "rating_expired")),
    ("issued", None, date(2027, 3, 15), ("suspend", "rating_expired")),
    ("suspended", "overdue", date(2027, 3, 15), None),                  # another cause keeps its category
    ("suspended", "rating_expired", date(2027, 3, 15), None),
    ("suspended", "rating_expired", date(2027, 3, 1), ("resume", None)),  # re-confirmed: lifted by itself
    ("suspended", "manual", date(2027, 3, 1), None),                     # a manual suspension is lifted by hand
    ("active", None, VALID_TO, ("suspend", "rating_expired")),
    ("active", None, date(2029, 3, 15), ("expire", None)),
    ("suspended", "overdue", date(2029, 3, 15), ("expire", None)),
    ("expired", None, date(2030, 1, 1), None),
    ("revoked", None, date(2030, 1, 1), None),
    ("superseded", None, date(2030, 1, 1), None),
])
def test_date_change(status, category, today, expected):
    change = rules.date_change(status, category, VALID_TO, RECONFIRM, today)
    assert (None if change is None else (change.event, change.category)) == expected


@pytest.mark.parametrize("status,category,today,expected", [
    ("active", None, date(2026, 6, 1), ("active", None)),
    ("active", None, date(2027, 6, 1), ("suspended", "rating_expired")),
    ("suspended", "rating_expired", date(2026, 6, 1), ("active", None)),
    ("active", None, date(2029, 6, 1), ("expired", None)),
    ("revoked", None, date(2029, 6, 1), ("revoked", None)),
])
def test_effective_status(status, category, today, expected):
    assert rules.effective_status(status, category, VALID_TO, RECONFIRM, today) == expected


def test_after_resume_keeps_a_lapsed_rating_suspended():
    assert rules.after_resume(RECONFIRM, date(2026, 6, 1)) == ("active", None)
    assert rules.after_resume(RECONFIRM, date(2027, 6, 1)) == ("suspended", "rating_expired")


# ---------------------------------------------------------------- words

@pytest.mark.parametrize("status,public", [
    ("issued", "valid"), ("active", "valid"), ("suspended", "suspended"), ("expired", "expired"),
    ("superseded", "superseded"), ("revoked", "invalid"), ("", "invalid"), (None, "invalid"), ("bogus", "invalid"),
])
def test_public_status(status, public):
    assert rules.public_status(status) == public


def test_every_status_and_category_has_a_label_and_matches_the_models():
    from fieldapp.certificates import models
    assert rules.CERT_STATUSES == models.CERT_STATUSES
    assert rules.LINE_STATUSES == models.LINE_STATUSES
    assert rules.SUSPENSION_CATEGORIES == models.SUSPENSION_CATEGORIES
    assert set(rules.CERT_STATUS_LABELS) == set(rules.CERT_STATUSES)
    assert set(rules.LINE_STATUS_LABELS) == set(rules.LINE_STATUSES)
    assert set(rules.SUSPENSION_LABELS) == set(rules.SUSPENSION_CATEGORIES)
    assert set(rules.PUBLIC_STATUS_LABELS) == set(rules.PUBLIC_STATUSES)
    assert set(rules.PUBLIC_STATUS.values()) <= set(rules.PUBLIC_STATUSES)
    assert "rating_expired" not in rules.MANUAL_CATEGORIES


@pytest.mark.parametrize("fen,text", [(5_000_000, "5万元"), (10_050_000, "10.05万元"), (0, "0万元")])
def test_wan_text(fen, text):
    assert rules.wan_text(fen) == text
