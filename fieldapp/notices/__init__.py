from flask import Blueprint

bp = Blueprint("notices", __name__)

from . import models  # noqa: E402,F401
from . import services  # noqa: E402,F401  (registers the notices.close tick)
from . import views  # noqa: E402,F401
from . import objection_views, public  # noqa: E402,F401
