"""The schema comes only from Alembic: migrating an empty database gives exactly what the models declare."""
from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from fieldapp.extensions import db


def test_models_and_migrations_agree(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], "models and migrations disagree: run `flask db migrate` and review the revision:\n" + \
        "\n".join(map(repr, diff))


def test_migrations_are_at_head(app):
    from alembic.script import ScriptDirectory
    from flask_migrate import Config
    from pathlib import Path
    directory = Path(__file__).resolve().parents[2] / "migrations"
    config = Config(str(directory / "alembic.ini"))
    config.set_main_option("script_location", str(directory))
    heads = ScriptDirectory.from_config(config).get_heads()
    with db.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_heads()
    assert len(heads) == 1, f"several migration heads: {heads}"
    assert set(current) == set(heads)


def test_a_sqlite_table_rebuild_keeps_the_rows_that_point_at_it(tmp_path):
    """0004 rebuilds `ratings` on SQLite (batch mode); review items pointing at a rating keep their link."""
    import sqlalchemy as sa
    from flask_migrate import downgrade, upgrade

    from tests.conftest import make_app
    from tests.support.ratings import accept_file
    from tests.support.world import build_world

    directory = str(Path(__file__).resolve().parents[2] / "migrations")
    app = make_app(f"sqlite:///{tmp_path / 'rebuild.sqlite3'}", tmp_path)
    with app.app_context():
        upgrade(directory=directory)
        world = build_world()
        db.session.commit()
        from fieldapp.ratings import services
        from fieldapp.ratings.models import ReviewItem, ReviewMeeting
        accept_file(world.h1)
        rating = services.propose(db.session.get(type(world.h1), world.h1.id), user_id=world.officer.id)
        meeting = ReviewMeeting(county_id=world.v1.county_id, village_id=world.v1.id, held_on=rating.proposed_at.date())
        db.session.add(meeting)
        db.session.flush()
        db.session.add(ReviewItem(meeting_id=meeting.id, household_id=world.h1.id, rating_id=rating.id))
        db.session.commit()
        db.session.remove()
        downgrade(directory=directory, revision="0003_ratings")  # rebuilds ratings without replaces_id
        upgrade(directory=directory)                              # and with it again
        linked = db.session.scalar(sa.select(sa.func.count()).select_from(ReviewItem)
                                   .where(ReviewItem.rating_id.is_not(None)))
        assert linked == 1
        assert db.session.connection().exec_driver_sql("PRAGMA foreign_keys").scalar() == 1  # back on for the app
        db.session.remove()
