from flask import Blueprint

bp = Blueprint("notices", __name__)

from . import models  # noqa: E402,F401
