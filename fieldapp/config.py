"""Settings from plain environment names, with safe defaults for a laptop or a single-machine install."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = Path(os.environ.get("INSTANCE_PATH", ROOT / "instance"))


def _instance_secret() -> str:
    """Read the secret key from instance/, writing a random one on first run."""
    INSTANCE.mkdir(parents=True, exist_ok=True)
    path = INSTANCE / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        INSTANCE.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{INSTANCE / 'fieldapp.sqlite3'}"
    # Accept the plain postgres:// forms that hosting tools print; we drive PostgreSQL with psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    """Production-safe defaults; every value can be overridden from the environment."""

    SECRET_KEY = os.environ.get("SECRET_KEY") or None  # filled from instance/ in create_app
    SQLALCHEMY_DATABASE_URI = None  # resolved in create_app so tests can change the environment first
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
    PHOTO_DIR = os.environ.get("PHOTO_DIR") or str(INSTANCE / "photos")
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_ENABLED = _bool("RATELIMIT_ENABLED", True)
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "20 per minute")
    LOCKOUT_THRESHOLD = int(os.environ.get("LOCKOUT_THRESHOLD", "5"))
    LOCKOUT_BASE_SECONDS = int(os.environ.get("LOCKOUT_BASE_SECONDS", "30"))
    # Argon2 cost: OWASP-recommended defaults in production; tests and the demo make it cheap.
    ARGON2_TIME_COST = int(os.environ.get("ARGON2_TIME_COST", "3"))
    ARGON2_MEMORY_COST = int(os.environ.get("ARGON2_MEMORY_COST", "65536"))
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    REMEMBER_COOKIE_HTTPONLY = True
    PREFERRED_URL_SCHEME = "https" if PUBLIC_BASE_URL.startswith("https") else "http"
    WTF_CSRF_TIME_LIMIT = None  # a form left open during a long visit must still submit
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", str(25 * 1024 * 1024)))
    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ("zh_CN", "en")
    COMPRESS_MIMETYPES = ["text/html", "text/css", "application/javascript", "text/javascript",
                          "application/json", "image/svg+xml"]
    COMPRESS_ALGORITHM = ["br", "gzip"]
    COMPRESS_MIN_SIZE = 500
    SEND_FILE_MAX_AGE_DEFAULT = 3600
    TRUST_PROXY = _bool("TRUST_PROXY", False)
    # Test-only hooks (clock control) are off unless a test config turns them on.
    ENABLE_TEST_HOOKS = False
    IDEMPOTENCY_KEY_TTL_DAYS = 7
    # Certificate cards in one printed PDF (a multiple of 10: A4 sheets of 10); a bigger village prints in parts.
    CARDS_PER_PDF = int(os.environ.get("CARDS_PER_PDF", "100"))
    # How long a write waits for another's lock (SQLite busy_timeout, PostgreSQL lock_timeout) before the request
    # answers 503 "busy, saved nothing".
    DB_LOCK_TIMEOUT_MS = int(os.environ.get("DB_LOCK_TIMEOUT_MS", "15000"))
    # Public notices (公示, domain W4): window lengths in calendar days, the posting photo's radius, the hotline.
    BANK_NAME = os.environ.get("BANK_NAME", "农村商业银行")
    NOTICE_DAYS = int(os.environ.get("NOTICE_DAYS", "7"))
    NOTICE_MIN_DAYS = int(os.environ.get("NOTICE_MIN_DAYS", "5"))
    NOTICE_MAX_DAYS = int(os.environ.get("NOTICE_MAX_DAYS", "15"))
    RENOTICE_DAYS = int(os.environ.get("RENOTICE_DAYS", "3"))
    NOTICE_POSTING_RADIUS_M = float(os.environ.get("NOTICE_POSTING_RADIUS_M", "1500"))
    NOTICE_LIST_KEEP_DAYS = int(os.environ.get("NOTICE_LIST_KEEP_DAYS", "30"))
    NOTICE_HOTLINE = os.environ.get("NOTICE_HOTLINE", "0872-1234567")
    # Public objection form and status lookup, per client IP (a miss costs the same as a hit).
    NOTICE_OBJECTION_RATE_LIMIT = os.environ.get("NOTICE_OBJECTION_RATE_LIMIT", "10 per hour")
    NOTICE_LOOKUP_RATE_LIMIT = os.environ.get("NOTICE_LOOKUP_RATE_LIMIT", "20 per hour")
    # Credit certificates (授信证, domain W5): validity, the hotline printed on cards and the verify page, the public
    # verify page's per-IP limits (a miss - unknown or malformed token or number - is throttled harder than a hit),
    # and the key for QR-token lookups and sealing. CERT_TOKEN_KEY is optional: by default the key is derived from
    # SECRET_KEY with HKDF under its own label (separate from the photo key). Changing either invalidates every QR
    # printed so far (reissue the cards).
    CERT_VALID_YEARS = int(os.environ.get("CERT_VALID_YEARS", "3"))
    CERT_HOTLINE = os.environ.get("CERT_HOTLINE") or NOTICE_HOTLINE
    VERIFY_RATE_LIMIT = os.environ.get("VERIFY_RATE_LIMIT", "60 per minute")
    VERIFY_MISS_RATE_LIMIT = os.environ.get("VERIFY_MISS_RATE_LIMIT", "10 per minute")
    CERT_TOKEN_KEY = os.environ.get("CERT_TOKEN_KEY") or None


class TestConfig(Config):
    """Fast, deterministic settings for the test suite."""

    TESTING = True
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024
    RATELIMIT_STORAGE_URI = "memory://"
    ENABLE_TEST_HOOKS = True
    PUBLIC_BASE_URL = "http://fieldapp.test"
    DEMO_HOUSEHOLDS = 0  # the org-layer demo tests need no households; household tests ask for a size


def resolve(app_config: dict) -> None:
    """Fill values that depend on the environment at app-creation time."""
    if not app_config.get("SQLALCHEMY_DATABASE_URI"):
        app_config["SQLALCHEMY_DATABASE_URI"] = _database_url()
    if not app_config.get("SECRET_KEY"):
        app_config["SECRET_KEY"] = _instance_secret()
