"""The injectable "now": real time in production, movable in tests and the demo."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def _offset() -> timedelta:
    if has_app_context():
        return timedelta(seconds=float(current_app.config.get("CLOCK_OFFSET_SECONDS", 0) or 0))
    return timedelta(0)


def now() -> datetime:
    """Aware UTC now, shifted by the configured offset (CLOCK_OFFSET_SECONDS)."""
    return datetime.now(timezone.utc) + _offset()


def utcnow_naive() -> datetime:
    """Naive UTC now for database columns (stored as UTC, shown in Asia/Shanghai)."""
    return now().replace(tzinfo=None)


def today() -> date:
    """Today's date in Asia/Shanghai, the calendar the villages live by."""
    return now().astimezone(LOCAL_TZ).date()


def set_now(app, moment: datetime) -> None:
    """Move this process's clock so that now() returns `moment` (tests and the demo only)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    app.config["CLOCK_OFFSET_SECONDS"] = (moment - datetime.now(timezone.utc)).total_seconds()


def reset(app) -> None:
    """Back to real time."""
    app.config["CLOCK_OFFSET_SECONDS"] = 0


def to_local(value: datetime | None) -> datetime | None:
    """A stored naive-UTC (or aware) datetime in Asia/Shanghai."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(LOCAL_TZ)
