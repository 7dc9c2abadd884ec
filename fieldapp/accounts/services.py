"""Log in, lock out, change and reset passwords."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

from ..core import audit, clock
from ..extensions import db
from . import rules
from .models import LoginThrottle, RoleGrant, User


def _hasher() -> PasswordHasher:
    cfg = current_app.config
    return PasswordHasher(time_cost=cfg["ARGON2_TIME_COST"], memory_cost=cfg["ARGON2_MEMORY_COST"], parallelism=1)


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def check_password(user: User, password: str) -> bool:
    try:
        return _hasher().verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


_DUMMY_HASH: dict[str, str] = {}


def _burn_time(password: str) -> None:
    """Spend the same time as a real check, so unknown logins cannot be told apart by timing."""
    key = f"{current_app.config['ARGON2_TIME_COST']}:{current_app.config['ARGON2_MEMORY_COST']}"
    if key not in _DUMMY_HASH:
        _DUMMY_HASH[key] = hash_password("not-a-real-password")
    try:
        _hasher().verify(_DUMMY_HASH[key], password)
    except VerificationError:
        pass


def find_login(login: str) -> User | None:
    """A user by username or mobile number."""
    login = (login or "").replace("\x00", "").strip()
    if not login or len(login) > 60:
        return None
    return db.session.scalar(sa.select(User).where(sa.or_(User.username == login, User.mobile == login)))


def _throttle_key(login: str, ip: str | None) -> str:
    return hashlib.sha256(f"{login.strip().lower()}|{ip or ''}".encode()).hexdigest()


@dataclass
class LoginResult:
    user: User | None
    error: str | None = None  # "bad_credentials" | "locked" | "inactive"
    wait_seconds: int = 0


def authenticate(login: str, password: str, ip: str | None) -> LoginResult:
    """Check a login; record failures per (account, IP) and refuse while locked."""
    cfg = current_app.config
    key = _throttle_key(login, ip)
    now = clock.utcnow_naive()
    throttle = db.session.get(LoginThrottle, key)
    if throttle and throttle.locked_until and throttle.locked_until > now:
        return LoginResult(None, "locked", int((throttle.locked_until - now).total_seconds()) + 1)
    user = find_login(login)
    ok = check_password(user, password) if user else (_burn_time(password) or False)
    if ok and user.active:
        if throttle:
            db.session.delete(throttle)
        user.last_login_at = now
        audit.record("login", "users", user.id, actor=user)
        if user.password_hash and _hasher().check_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        return LoginResult(user)
    if throttle is None:
        throttle = LoginThrottle(key=key, failures=0)
        db.session.add(throttle)
    throttle.failures += 1
    throttle.updated_at = now
    wait = rules.lockout_seconds(throttle.failures, cfg["LOCKOUT_THRESHOLD"], cfg["LOCKOUT_BASE_SECONDS"])
    throttle.locked_until = now + timedelta(seconds=wait) if wait else None
    audit.record("login_failed", "users", user.id if user else None,
                 changes={"login": login[:3] + "***", "failures": throttle.failures})
    if ok and not user.active:
        return LoginResult(None, "inactive")
    return LoginResult(None, "locked" if wait else "bad_credentials", wait)


def change_password(user: User, new_password: str) -> None:
    """Set a new password and sign out every other device."""
    user.password_hash = hash_password(new_password)
    user.must_change_password = False
    user.session_epoch += 1


def admin_reset_password(user: User, temporary: str) -> None:
    """An admin sets a temporary password; the user must change it at next login."""
    user.password_hash = hash_password(temporary)
    user.must_change_password = True
    user.session_epoch += 1


def sign_out_everywhere(user: User) -> None:
    """Invalidate every session of this user, this one included."""
    user.session_epoch += 1
    audit.record("logout", "users", user.id, reason="all devices")


def create_user(*, username: str, name: str, password: str, mobile: str | None = None,
                employee_no: str | None = None, position: str | None = None,
                roles: list[tuple[str, str | None, int | None]] = (), must_change: bool = False) -> User:
    """A new staff account with its role grants (flushes; the caller commits)."""
    user = User(username=username, name=name, mobile=mobile or None, employee_no=employee_no or None,
                position=position or None, password_hash=hash_password(password), must_change_password=must_change)
    for role, scope_type, scope_id in roles:
        user.roles.append(RoleGrant(role=role, scope_type=scope_type, scope_id=scope_id))
    db.session.add(user)
    db.session.flush()
    return user
