"""Identifier checks: resident ID (GB 11643-1999), USCC (GB 32100-2015), mobile numbers.

Pure standard-library code (domain.md section 4.1). Errors carry a stable machine
``code``; callers translate codes through the ``*_MESSAGES_ZH`` tables.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

__all__ = [
    "ID_WEIGHTS",
    "ID_CHECK_CHARS",
    "USCC_CHARSET",
    "USCC_WEIGHTS",
    "MESSAGES_ZH",
    "USCC_MESSAGES_ZH",
    "MOBILE_MESSAGES_ZH",
    "IdInfo",
    "IdNumberError",
    "UsccError",
    "MobileError",
    "check_char",
    "parse_id_number",
    "is_valid_id_number",
    "age_on",
    "sex_matches",
    "birth_matches",
    "uscc_check_char",
    "parse_uscc",
    "is_valid_uscc",
    "normalise_mobile",
    "is_valid_mobile",
]

# --------------------------------------------------------------------------- #
# Resident ID number (GB 11643-1999)
# --------------------------------------------------------------------------- #

ID_WEIGHTS: tuple[int, ...] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
# Index is S mod 11; value is the check character.
ID_CHECK_CHARS = "10X98765432"

_DIGITS = frozenset("0123456789")
_MIN_BIRTH_YEAR = 1900

MESSAGES_ZH: dict[str, str] = {
    "empty": "请填写身份证号码",
    "length": "身份证号码应为18位（旧版15位号码也可）",
    "chars": "身份证号码只能包含数字，最后一位可以是X",
    "birth_date": "身份证号码中的出生日期不是有效日期",
    "future_birth": "身份证号码中的出生日期晚于今天，请核对",
    "too_old": "身份证号码中的出生年份早于1900年，请核对",
    "check_digit": "身份证号码校验位错误，请核对最后一位",
}

_ID_MESSAGES_EN: dict[str, str] = {
    "empty": "ID number is empty",
    "length": "ID number must have 18 characters (or 15 for legacy numbers)",
    "chars": "ID number may contain only digits, with an optional final X",
    "birth_date": "birth date in ID number is not a real date",
    "future_birth": "birth date in ID number is in the future",
    "too_old": "birth year in ID number is before 1900",
    "check_digit": "ID number check character is wrong",
}


class IdNumberError(ValueError):
    """Invalid resident ID number; ``code`` is one of MESSAGES_ZH's keys."""

    def __init__(self, code: str, message_en: str | None = None) -> None:
        if code not in MESSAGES_ZH:
            raise ValueError(f"unknown IdNumberError code: {code!r}")
        self.code = code
        self.message_en = message_en or _ID_MESSAGES_EN[code]
        super().__init__(self.message_en)

    @property
    def message_zh(self) -> str:
        """Chinese message for this error's code."""
        return MESSAGES_ZH[self.code]


@dataclass(frozen=True, slots=True)
class IdInfo:
    """Facts decoded from a valid resident ID number."""

    number: str  # normalised: 18 characters, uppercase X
    birth_date: date
    sex: str  # "M" or "F"
    region_code: str  # 6-digit GB/T 2260 address code at issue
    upgraded_from_15: bool


def _clean(raw: str) -> str:
    """Fold full-width characters, strip surrounding whitespace and uppercase."""
    return unicodedata.normalize("NFKC", raw or "").strip().upper()


def check_char(first17: str) -> str:
    """Return the GB 11643 check character for the first 17 digits."""
    if len(first17) != 17 or not set(first17) <= _DIGITS:
        raise ValueError("check_char needs exactly 17 ASCII digits")
    total = sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS))
    return ID_CHECK_CHARS[total % 11]


def parse_id_number(raw: str, today: date) -> IdInfo:
    """Validate and decode a resident ID number, raising IdNumberError if invalid."""
    number = _clean(raw)
    if not number:
        raise IdNumberError("empty")
    if len(number) not in (15, 18):
        raise IdNumberError("length")

    upgraded = len(number) == 15
    if upgraded:
        if not set(number) <= _DIGITS:
            raise IdNumberError("chars")
        first17 = number[:6] + "19" + number[6:]
    else:
        first17 = number[:17]
        if not set(first17) <= _DIGITS or number[17] not in _DIGITS | {"X"}:
            raise IdNumberError("chars")

    try:
        birth = date(int(first17[6:10]), int(first17[10:12]), int(first17[12:14]))
    except ValueError:
        raise IdNumberError("birth_date") from None
    if birth.year < _MIN_BIRTH_YEAR:
        raise IdNumberError("too_old")
    if birth > today:
        raise IdNumberError("future_birth")

    expected = check_char(first17)
    if upgraded:
        number = first17 + expected
    elif number[17] != expected:
        raise IdNumberError("check_digit")

    return IdInfo(
        number=number,
        birth_date=birth,
        sex="M" if int(first17[16]) % 2 else "F",
        region_code=first17[:6],
        upgraded_from_15=upgraded,
    )


def is_valid_id_number(raw: str, today: date) -> bool:
    """Return True if ``raw`` is a valid resident ID number as of ``today``."""
    try:
        parse_id_number(raw, today)
    except IdNumberError:
        return False
    return True


def age_on(birth_date: date, day: date) -> int:
    """Return age in completed years on ``day`` (a 29 Feb birthday counts from 1 Mar)."""
    if day < birth_date:
        raise ValueError("day is before birth_date")
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


_SEX_ALIASES = {"M": "M", "F": "F", "男": "M", "女": "F", "MALE": "M", "FEMALE": "F"}


def sex_matches(info: IdInfo, sex: str) -> bool:
    """Return True if ``sex`` ("M"/"F", also 男/女) agrees with the ID number."""
    return _SEX_ALIASES.get((sex or "").strip().upper()) == info.sex


def birth_matches(info: IdInfo, birth_date: date) -> bool:
    """Return True if ``birth_date`` equals the birth date in the ID number."""
    return info.birth_date == birth_date


# --------------------------------------------------------------------------- #
# Unified social credit code (GB 32100-2015)
# --------------------------------------------------------------------------- #

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS: tuple[int, ...] = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_VALUE = {c: i for i, c in enumerate(USCC_CHARSET)}

USCC_MESSAGES_ZH: dict[str, str] = {
    "empty": "请填写统一社会信用代码",
    "length": "统一社会信用代码应为18位",
    "chars": "统一社会信用代码含有无效字符（不使用I、O、Z、S、V）",
    "check_digit": "统一社会信用代码校验位错误，请核对最后一位",
}

_USCC_MESSAGES_EN: dict[str, str] = {
    "empty": "unified social credit code is empty",
    "length": "unified social credit code must have 18 characters",
    "chars": "unified social credit code contains invalid characters",
    "check_digit": "unified social credit code check character is wrong",
}


class UsccError(ValueError):
    """Invalid unified social credit code; ``code`` is one of USCC_MESSAGES_ZH's keys."""

    def __init__(self, code: str, message_en: str | None = None) -> None:
        if code not in USCC_MESSAGES_ZH:
            raise ValueError(f"unknown UsccError code: {code!r}")
        self.code = code
        self.message_en = message_en or _USCC_MESSAGES_EN[code]
        super().__init__(self.message_en)

    @property
    def message_zh(self) -> str:
        """Chinese message for this error's code."""
        return USCC_MESSAGES_ZH[self.code]


def uscc_check_char(first17: str) -> str:
    """Return the GB 32100 check character for the first 17 characters."""
    if len(first17) != 17 or not set(first17) <= _USCC_VALUE.keys():
        raise ValueError("uscc_check_char needs exactly 17 characters from USCC_CHARSET")
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, USCC_WEIGHTS))
    return USCC_CHARSET[(31 - total % 31) % 31]


def parse_uscc(raw: str) -> str:
    """Validate a unified social credit code and return it normalised, raising UsccError."""
    code = _clean(raw)
    if not code:
        raise UsccError("empty")
    if len(code) != 18:
        raise UsccError("length")
    if not set(code) <= _USCC_VALUE.keys():
        raise UsccError("chars")
    if uscc_check_char(code[:17]) != code[17]:
        raise UsccError("check_digit")
    return code


def is_valid_uscc(raw: str) -> bool:
    """Return True if ``raw`` is a valid unified social credit code."""
    try:
        parse_uscc(raw)
    except UsccError:
        return False
    return True


# --------------------------------------------------------------------------- #
# Mobile numbers
# --------------------------------------------------------------------------- #

MOBILE_MESSAGES_ZH: dict[str, str] = {
    "empty": "请填写手机号码",
    "format": "手机号码应为以1开头的11位数字",
}

_MOBILE_MESSAGES_EN: dict[str, str] = {
    "empty": "mobile number is empty",
    "format": "mobile number must be 11 digits starting with 1",
}

_MOBILE_RE = re.compile(r"1[0-9]{10}")
_MOBILE_SEPARATORS = re.compile(r"[\s\-]+")


class MobileError(ValueError):
    """Invalid mobile number; ``code`` is one of MOBILE_MESSAGES_ZH's keys."""

    def __init__(self, code: str, message_en: str | None = None) -> None:
        if code not in MOBILE_MESSAGES_ZH:
            raise ValueError(f"unknown MobileError code: {code!r}")
        self.code = code
        self.message_en = message_en or _MOBILE_MESSAGES_EN[code]
        super().__init__(self.message_en)

    @property
    def message_zh(self) -> str:
        """Chinese message for this error's code."""
        return MOBILE_MESSAGES_ZH[self.code]


def normalise_mobile(raw: str) -> str:
    """Return the bare 11-digit mobile number, stripping separators and +86/86; raise MobileError."""
    text = _MOBILE_SEPARATORS.sub("", unicodedata.normalize("NFKC", raw or ""))
    if not text:
        raise MobileError("empty")
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("86") and len(text) == 13:
        text = text[2:]
    if not _MOBILE_RE.fullmatch(text):
        raise MobileError("format")
    return text


def is_valid_mobile(raw: str) -> bool:
    """Return True if ``raw`` is a mainland mobile number (11 digits starting with 1)."""
    try:
        normalise_mobile(raw)
    except MobileError:
        return False
    return True
