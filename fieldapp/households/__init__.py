from flask import Blueprint

bp = Blueprint("households", __name__)

from . import models  # noqa: E402,F401
