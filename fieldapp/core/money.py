"""Money helpers: Decimal yuan in the app, integer fen in storage (domain.md section 0.4).

Pure standard-library code. Floats are rejected everywhere; rounding is ROUND_HALF_UP.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

__all__ = [
    "MAX_YUAN",
    "MESSAGES_ZH",
    "MoneyError",
    "to_fen",
    "from_fen",
    "parse_yuan",
    "format_yuan",
    "format_wan",
    "round_yuan",
    "floor_to",
    "simple_interest",
]

MAX_YUAN = Decimal(10) ** 12
_CENT = Decimal("0.01")
_WAN = Decimal(10000)
_DAYS_IN_YEAR = 360  # PBOC actual/360 convention
_PREC = 60  # local Decimal precision: ample for 10^12 yuan with many decimals

MESSAGES_ZH: dict[str, str] = {
    "empty": "请填写金额",
    "format": "金额格式不正确，请填写数字，例如 1234.50 或 5万",
    "negative": "金额不能为负数",
    "too_many_decimals": "金额最多精确到分（小数点后两位）",
    "too_large": "金额过大，请核对",
}

_MESSAGES_EN: dict[str, str] = {
    "empty": "amount is empty",
    "format": "amount is not a number",
    "negative": "amount must not be negative",
    "too_many_decimals": "amount has more than two decimal places",
    "too_large": "amount exceeds 10^12 yuan",
}


class MoneyError(ValueError):
    """Invalid amount; ``code`` is one of MESSAGES_ZH's keys."""

    def __init__(self, code: str, message_en: str | None = None) -> None:
        if code not in MESSAGES_ZH:
            raise ValueError(f"unknown MoneyError code: {code!r}")
        self.code = code
        self.message_en = message_en or _MESSAGES_EN[code]
        super().__init__(self.message_en)

    @property
    def message_zh(self) -> str:
        """Chinese message for this error's code."""
        return MESSAGES_ZH[self.code]


def _reject_float(value: object, name: str) -> None:
    if isinstance(value, float):
        raise TypeError(f"{name} must not be a float; use Decimal or str")


def _to_decimal(value: Decimal | str | int, name: str) -> Decimal:
    """Convert Decimal/str/int to a finite Decimal, rejecting floats and bools."""
    _reject_float(value, name)
    if isinstance(value, bool):
        raise TypeError(f"{name} must not be a bool")
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, str):
        try:
            d = Decimal(value.strip())
        except InvalidOperation:
            raise MoneyError("format") from None
    else:
        raise TypeError(f"{name} must be Decimal, str or int, not {type(value).__name__}")
    if not d.is_finite():
        raise ValueError(f"{name} must be finite, not {d}")
    return d


def to_fen(yuan: Decimal | str | int) -> int:
    """Convert yuan to integer fen, rounding half-up; floats raise TypeError."""
    d = _to_decimal(yuan, "yuan")
    with localcontext() as ctx:
        ctx.prec = max(_PREC, len(d.as_tuple().digits) + 5)  # keeps scaleb exact
        return int(d.scaleb(2).to_integral_value(rounding=ROUND_HALF_UP))


def from_fen(fen: int) -> Decimal:
    """Convert integer fen to a Decimal yuan with exactly 2 decimal places."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"fen must be int, not {type(fen).__name__}")
    with localcontext() as ctx:
        ctx.prec = max(_PREC, len(str(abs(fen))) + 2)
        return Decimal(fen).scaleb(-2)


_AMOUNT_RE = re.compile(
    r"""
    (?P<currency>¥\s*)?
    (?P<sign>[-+])?
    \s*
    (?P<number>\d{1,3}(?:,\d{3})+(?:\.\d*)?|\d+(?:\.\d*)?|\.\d+)
    \s*
    (?P<unit>万元|万|元)?
    """,
    re.VERBOSE | re.ASCII,
)


def parse_yuan(text: str) -> Decimal:
    """Parse user-entered yuan ("1,234.5", "５万", "1.2万元") to a 2-place Decimal; raise MoneyError."""
    if text is None:
        raise MoneyError("empty")
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")
    cleaned = unicodedata.normalize("NFKC", text).replace("\u2212", "-").strip()
    if not cleaned:
        raise MoneyError("empty")
    m = _AMOUNT_RE.fullmatch(cleaned)
    if m is None:
        raise MoneyError("format")
    if m["sign"] == "-":
        raise MoneyError("negative")
    with localcontext() as ctx:
        ctx.prec = max(_PREC, len(m["number"]) + 10)
        value = Decimal(m["number"].replace(",", ""))
        if m["unit"] in ("万", "万元"):
            value *= _WAN
        if value > MAX_YUAN:
            raise MoneyError("too_large")
        rounded = value.quantize(_CENT)
        if rounded != value:
            raise MoneyError("too_many_decimals")
        return rounded


def format_yuan(fen: int) -> str:
    """Format fen as yuan with thousands separators and 2 decimals, e.g. "12,345.00"."""
    return f"{from_fen(fen):,.2f}"


def format_wan(fen: int) -> str:
    """Format fen as 万元 with up to 2 decimals, half-up, trailing zeros dropped, e.g. "1.23万"."""
    with localcontext() as ctx:
        ctx.prec = max(_PREC, len(str(abs(fen))) + 5)
        wan = round_yuan(from_fen(fen).scaleb(-4), 2)
    text = f"{wan:,.2f}".rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text + "万"


def round_yuan(d: Decimal, places: int = 2) -> Decimal:
    """Round a Decimal to ``places`` decimals with ROUND_HALF_UP."""
    d = _to_decimal(d, "d")
    with localcontext() as ctx:
        ctx.prec = max(_PREC, d.adjusted() + places + 10)
        return d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def floor_to(d: Decimal, step: Decimal) -> Decimal:
    """Floor ``d`` to a multiple of ``step`` (e.g. credit lines floored to 1,000 yuan)."""
    d = _to_decimal(d, "d")
    step = _to_decimal(step, "step")
    if step <= 0:
        raise ValueError("step must be positive")
    with localcontext() as ctx:
        ctx.prec = _PREC
        return (d / step).to_integral_value(rounding=ROUND_FLOOR) * step


def simple_interest(principal_fen: int, annual_rate: Decimal, days: int) -> int:
    """Return simple interest in fen on actual/360 (PBOC), rounded half-up to the fen."""
    if isinstance(principal_fen, bool) or not isinstance(principal_fen, int):
        raise TypeError("principal_fen must be int")
    if isinstance(days, bool) or not isinstance(days, int):
        raise TypeError("days must be int")
    if days < 0:
        raise ValueError("days must not be negative")
    rate = _to_decimal(annual_rate, "annual_rate")
    with localcontext() as ctx:
        ctx.prec = _PREC
        interest = Decimal(principal_fen) * rate * days / _DAYS_IN_YEAR
        return int(interest.to_integral_value(rounding=ROUND_HALF_UP))
