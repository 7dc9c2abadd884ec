from flask import Blueprint

bp = Blueprint("ratings", __name__)

from . import models  # noqa: E402,F401
from . import services  # noqa: E402,F401  (registers the batch job and the expiry tick)

from ..households.workflow import file_accepted  # noqa: E402


@file_accepted.connect
def _rerate(household):
    services.on_file_accepted(household)
from . import batch_views  # noqa: E402,F401
from . import model_admin  # noqa: E402,F401
from . import views  # noqa: E402,F401
from . import meeting_views  # noqa: E402,F401
