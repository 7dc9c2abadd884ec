from flask import Blueprint

bp = Blueprint("households", __name__)

from . import models  # noqa: E402,F401
from . import views  # noqa: E402,F401
from . import import_views  # noqa: E402,F401
from . import sections, workflow  # noqa: E402,F401
