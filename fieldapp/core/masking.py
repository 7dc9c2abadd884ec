"""Display masking of names, ID numbers and phone numbers (domain.md section 4.3).

Pure standard-library code. Masking never raises on odd input and never leaks
more than the documented visible characters.
"""

from __future__ import annotations

from fieldapp.core.idnumber import MobileError, normalise_mobile

__all__ = ["MASK", "NAME_SEPARATORS", "mask_name", "mask_id_number", "mask_phone"]

MASK = "*"

# Middle dots used between the parts of transliterated (e.g. Uyghur) names, plus
# whitespace; separators are shown as-is and do not count as name characters.
NAME_SEPARATORS = frozenset("·•・‧.")


def _is_separator(ch: str) -> bool:
    return ch in NAME_SEPARATORS or ch.isspace()


def mask_name(name: str) -> str:
    """Mask a personal name: keep the first and (for 3+ characters) last character."""
    text = (name or "").strip()
    positions = [i for i, ch in enumerate(text) if not _is_separator(ch)]
    if len(positions) <= 1:
        return text
    # Two name characters: keep the surname only. Three or more: keep first and last.
    keep = {positions[0]} if len(positions) == 2 else {positions[0], positions[-1]}
    return "".join(
        ch if (i in keep or _is_separator(ch)) else MASK for i, ch in enumerate(text)
    )


def _looks_like_id(text: str) -> bool:
    if len(text) == 15:
        return text.isascii() and text.isdigit()
    if len(text) == 18:
        head, last = text[:17], text[17]
        return head.isascii() and head.isdigit() and (last == "X" or (last.isascii() and last.isdigit()))
    return False


def mask_id_number(raw: str) -> str:
    """Mask an ID number as first 6 + stars + last 4; anything unrecognised becomes all stars."""
    text = (raw or "").strip()
    upper = text.upper()
    if _looks_like_id(upper):
        return upper[:6] + MASK * (len(upper) - 10) + upper[-4:]
    return MASK * len(text)


def mask_phone(raw: str) -> str:
    """Mask a phone number as ``138****1234``; other numbers keep only the last 4 characters."""
    text = (raw or "").strip()
    try:
        mobile = normalise_mobile(text)
    except MobileError:
        if len(text) <= 4:
            return MASK * len(text)
        return MASK * (len(text) - 4) + text[-4:]
    return mobile[:3] + MASK * 4 + mobile[-4:]
