from flask import Blueprint

bp = Blueprint("certificates", __name__)

from . import models  # noqa: E402,F401
