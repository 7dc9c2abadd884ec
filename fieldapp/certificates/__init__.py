from flask import Blueprint

bp = Blueprint("certificates", __name__)

from . import models  # noqa: E402,F401
from . import verify  # noqa: E402,F401
from . import services  # noqa: E402,F401
from . import cards  # noqa: E402,F401
from . import views  # noqa: E402,F401
