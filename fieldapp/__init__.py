"""Fieldapp: whole-village credit (整村授信) for rural banks, served as small mobile-first pages."""
from __future__ import annotations

from flask import Flask, g, request
from sqlalchemy import event

from . import config as config_module
from .extensions import babel, compress, csrf, db, limiter, login_manager, migrate

CAPABILITIES = ("accounts", "org", "core")


def _select_locale() -> str:
    from flask import current_app, has_request_context
    if not has_request_context():  # jobs, ticks and the CLI speak the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    languages = current_app.config["LANGUAGES"]
    chosen = request.cookies.get("lang")
    if chosen in languages:
        return chosen
    best = request.accept_languages.best_match(["zh", "zh_CN", "zh-CN", "en"])
    if best and best.startswith("en"):
        return "en"
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def _sqlite_pragmas(app: Flask) -> None:
    """SQLite: WAL, foreign keys, a busy timeout, and BEGIN IMMEDIATE for write transactions; PostgreSQL: the same
    lock timeout."""
    engine = db.engine
    if engine.dialect.name == "postgresql":
        @event.listens_for(engine, "connect")
        def on_pg_connect(dbapi_conn, _record):
            # A write waiting on another's row lock gives up after DB_LOCK_TIMEOUT_MS (503 "busy, saved nothing")
            # instead of holding a worker thread without end.
            with dbapi_conn.cursor() as cur:
                cur.execute(f"SET lock_timeout = {int(app.config['DB_LOCK_TIMEOUT_MS'])}")
            dbapi_conn.commit()
        return
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(app.config['DB_LOCK_TIMEOUT_MS'])}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn):
        # Reads under a GET take a deferred snapshot; anything that may write takes the write lock up front,
        # so two writers queue on busy_timeout instead of failing with "database is locked" mid-transaction.
        from flask import has_request_context
        if has_request_context() and request.method in ("GET", "HEAD", "OPTIONS"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_app(config_object=config_module.Config, **overrides) -> Flask:
    """Create and configure an instance of Fieldapp."""
    app = Flask(__name__, instance_path=str(config_module.INSTANCE), instance_relative_config=True)
    app.config.from_object(config_object)
    app.config.update(overrides)
    config_module.resolve(app.config)
    app.json.ensure_ascii = False  # Chinese in JSON (audit details, health) stays readable
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20,
                                                   **app.config["SQLALCHEMY_ENGINE_OPTIONS"]}
    if app.config.get("TRUST_PROXY"):
        from werkzeug.middleware.proxy_fix import ProxyFix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    db.init_app(app)
    from .core import access as _access
    # Authenticate before the CSRF check, so a phone whose session is gone hears 401 "log in again", not 400.
    app.before_request(_access.enforce)
    migrate.init_app(app, db, directory=str(config_module.ROOT / "migrations"), render_as_batch=True,
                     compare_type=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_select_locale,
                   default_translation_directories=str(config_module.ROOT / "fieldapp" / "translations"))
    compress.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    with app.app_context():
        _sqlite_pragmas(app)

    from .core import access, audit, web
    from .core import jobs  # noqa: F401 - registers the tick tasks and models
    audit.install()

    from .accounts import bp as accounts_bp
    from .certificates import bp as certificates_bp
    from .core.views import bp as core_bp
    from .households import bp as households_bp
    from .notices import bp as notices_bp
    from .org import bp as org_bp
    from .ratings import bp as ratings_bp
    from .visits import bp as visits_bp
    app.register_blueprint(core_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(org_bp)
    app.register_blueprint(households_bp)
    app.register_blueprint(visits_bp)
    app.register_blueprint(ratings_bp)
    app.register_blueprint(notices_bp)
    app.register_blueprint(certificates_bp)
    if app.config.get("ENABLE_TEST_HOOKS"):
        from .core.testhooks import bp as test_bp
        app.register_blueprint(test_bp)

    app.session_interface = web.SessionInterface()
    app.after_request(web.security_headers)
    app.after_request(web.compress_static)   # runs before Flask-Compress's (after_request runs in reverse)
    app.register_error_handler(Exception, web.handle_exception)

    from .core.templating import install as install_templating
    install_templating(app)

    from .accounts.cli import users_cli
    from .core.cli import backup_command, restore_command
    from .demo.cli import demo_cli
    from .households.sections import lpr_cli
    app.cli.add_command(lpr_cli)
    app.cli.add_command(jobs.cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)

    @app.teardown_request
    def _forget_area(_exc):
        g.pop("access_area", None)

    return app
