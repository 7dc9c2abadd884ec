"""Login throttling and password rules (pure)."""
from __future__ import annotations

MAX_LOCK_SECONDS = 3600
MIN_PASSWORD_LENGTH = 8


def lockout_seconds(failures: int, threshold: int = 5, base: int = 30) -> int:
    """Seconds to refuse further tries after `failures` consecutive failures: 0 below the threshold,
    then base, 2×base, 4×base … capped at one hour."""
    if failures < threshold:
        return 0
    return min(base * 2 ** (failures - threshold), MAX_LOCK_SECONDS)


def password_problem(password: str, username: str = "", mobile: str = "") -> str | None:
    """Why a new password is unacceptable (a message id), or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return "too_short"
    if password.isdigit() and len(set(password)) <= 2:
        return "too_simple"
    lowered = password.lower()
    if username and username.lower() in lowered or mobile and mobile in password:
        return "contains_login"
    return None
