"""What templates may call: URLs, CSRF, the current area's labels, local time; never a business rule."""
from __future__ import annotations

from flask import Flask, request
from flask_babel import format_datetime, get_locale
from flask_login import current_user

from . import access, clock
from .idempotency import new_key
from .web import static_url


def install(app: Flask) -> None:
    # Globals (not context) so imported macros can call them too.
    app.jinja_env.globals.update(static_url=static_url, can_write=access.can_write, new_idem_key=new_key)

    @app.context_processor
    def globals_():
        return {
            "current_lang": str(get_locale() or "zh_CN"),
            "current_path": request.full_path.rstrip("?") if request else "/",
            "current_user": current_user,
        }

    @app.template_filter("local")
    def local(value, fmt: str = "yyyy-MM-dd HH:mm"):
        """A stored UTC datetime shown in Asia/Shanghai."""
        if value is None:
            return ""
        return format_datetime(clock.to_local(value), fmt)
