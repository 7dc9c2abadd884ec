"""Form pieces every capability shares: the optimistic-lock version and the one-time create key."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField
from wtforms.validators import ValidationError

from .idempotency import new_key


class VersionField(HiddenField):
    """The row version the form was rendered from; a stale one means someone else saved first (409)."""

    @property
    def number(self) -> int | None:
        raw = str(self.data or "").strip()
        return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else None

    def pre_validate(self, form):
        if self.number is None:
            raise ValidationError(_l("This form is damaged. Reload the page and enter your change again."))


class IdemKeyField(HiddenField):
    """A one-time key generated when a create form is rendered."""

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("default", new_key)
        super().__init__(label, validators, **kwargs)
