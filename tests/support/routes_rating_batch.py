"""Access-matrix rows for a village's ratings results and batch (fieldapp/ratings/batch_views.py) and the scoring
model versions (fieldapp/ratings/model_admin.py).

The batch POST on an in-scope village with nobody left to rate redirects back to the results (303) without queuing
a job; each role and village gets its own one-time key. Model versions are bank-wide: the out-of-scope id is one
that does not exist.
"""
from __future__ import annotations

from fieldapp.extensions import db
from fieldapp.ratings import services
from tests.support.matrix import MISSING, Route, village_ids

RESULTS = {"hq_admin", "branch_manager", "grid_officer", "village_secretary", "auditor"}
BATCH = {"grid_officer", "branch_manager"}
MODELS_READ = {"hq_admin", "auditor"}
MODELS_WRITE = {"hq_admin"}


def model_ids(w, role):
    model = services.current_model()
    db.session.commit()
    return model.id, MISSING


ROUTES = {
    "ratings.village_ratings": Route("GET", "/villages/{id}/ratings", RESULTS, ids=village_ids),
    "ratings.village_batch": Route("POST", "/villages/{id}/ratings/batch", BATCH, ok=303, ids=village_ids,
                                   data={"idem_key": "batch-{role}-{id}"}),
    "ratings.scoring_models": Route("GET", "/admin/scoring-models", MODELS_READ),
    "ratings.scoring_model": Route("GET", "/admin/scoring-models/{id}", MODELS_READ, ids=model_ids),
    "ratings.scoring_model_new": Route("GET", "/admin/scoring-models/new", MODELS_WRITE),
}
