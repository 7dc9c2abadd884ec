"""Roster import routes in the role × route matrix (households.import_*)."""
from __future__ import annotations

from pathlib import Path

from tests.support.matrix import Route

IMPORTERS = {"hq_admin", "branch_manager", "grid_officer"}


def upload_ids(w, role):
    """A stored (empty) upload of the role's own user, and one of another officer's: someone else's token is 404."""
    from flask import current_app

    from fieldapp.households.importer import UploadStore
    store = UploadStore(Path(current_app.instance_path) / "imports")
    user = w.roles.get(role)
    own = store.save(user.id, "matrix.xlsx", []) if user is not None else "no-such-upload-token-0000"
    return own, store.save(w.officer2.id, "other.xlsx", [])


ROUTES = {
    "households.import_form": Route("GET", "/households/import", IMPORTERS),
    "households.import_template": Route("GET", "/households/import/template.xlsx", IMPORTERS),
    # No file in a matrix POST: the form comes back with 422 (the upload itself is tested in test_import.py).
    "households.import_preview": Route("POST", "/households/import", IMPORTERS, ok=422),
    "households.import_commit": Route("POST", "/households/import/{id}/commit", IMPORTERS, ok=303, ids=upload_ids,
                                      data={"idem_key": "k{role}{id}"}),
    "households.import_report": Route("GET", "/households/import/{id}/report.csv", IMPORTERS, ids=upload_ids),
}
