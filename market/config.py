"""Configuration: defaults for an embedded install, overridden from the environment."""
from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from .money import DEFAULT_CONTRACT_MAX_YUAN, parse_amount_setting, parse_contract_ceiling

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def instance_dir() -> Path:
    """The folder holding the default SQLite database, the search index and the secret key."""
    return Path(os.environ.get("MARKET_INSTANCE_DIR") or PROJECT_ROOT / "instance").resolve()


def _secret_key(folder: Path) -> str:
    """SECRET_KEY from the environment, else one generated once into the instance folder.

    Every worker of a node reads the same file, so sessions survive across workers.
    """
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "secret_key"
    if not path.exists():
        # written in full under a private name, then linked into place: workers starting together never read a
        # half-written (empty) key, and the first link wins (os.link refuses an existing name)
        tmp = folder / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return path.read_text().strip()


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _proxy_hops(value: str) -> int:
    value = value.strip().lower()
    if value.isdigit():
        return int(value)
    return 1 if value in {"true", "yes", "on"} else 0


#: Bounds on every import file (market/imports.py), whatever its kind or path (web upload, `flask import ...`).
#: Also the values used when no app is running (fuzz harnesses, scripts).
IMPORT_LIMITS = {
    "IMPORT_MAX_ROWS": 20_000,  # records after the header, blank ones included
    "IMPORT_MAX_COLUMNS": 50,  # columns an .xlsx sheet may declare (<dimension>) or fill in a row; a CSV header's
    "IMPORT_MAX_FILE_BYTES": 50 * 1024 * 1024,  # the file as stored (uploads are also bound by MAX_CONTENT_LENGTH)
    "IMPORT_MAX_INFLATED_BYTES": 32 * 1024 * 1024,  # an .xlsx unzipped: all its parts together
    "IMPORT_MAX_COMPRESSION_RATIO": 100,  # an .xlsx part over 1 MB may inflate at most this many times
    "IMPORT_MAX_LINE_BYTES": 128 * 1024,  # one CSV record, JSONL line or .xlsx sheet row
}


class Config:
    def __init__(self) -> None:
        folder = instance_dir()
        folder.mkdir(parents=True, exist_ok=True)
        self.INSTANCE_DIR = str(folder)
        self.SECRET_KEY = _secret_key(folder)
        self.SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or f"sqlite:///{folder / 'market.db'}"
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
        # any SQL statement running longer is cancelled (PostgreSQL statement_timeout, an SQLite progress
        # handler) and the page answers 503; 0 = no limit
        self.DB_STATEMENT_TIMEOUT_MS = int(os.environ.get("DB_STATEMENT_TIMEOUT_MS", 10_000))
        # the database out of reach answers 503 within seconds, never a hung worker (market/database.py).
        # PostgreSQL: seconds to open a connection (libpq's minimum is 2) and to wait for a pooled one
        self.DB_CONNECT_TIMEOUT = int(os.environ.get("DB_CONNECT_TIMEOUT", 2))
        self.DB_POOL_TIMEOUT = float(os.environ.get("DB_POOL_TIMEOUT", 5))
        # a call without an answer for DB_STALL_SECONDS makes the client ask the server on a new connection whether
        # it answers at all (DB_PROBE_TIMEOUT seconds): if not, the call is given up; 0 = never ask
        self.DB_STALL_SECONDS = float(os.environ.get("DB_STALL_SECONDS", 2))
        self.DB_PROBE_TIMEOUT = float(os.environ.get("DB_PROBE_TIMEOUT", 1))
        # SQLite: how long a write waits for another connection's write lock ("database is locked", a 503, after)
        self.DB_BUSY_TIMEOUT_MS = int(os.environ.get("DB_BUSY_TIMEOUT_MS", 10_000))
        self.SEARCH_ENGINE = os.environ.get("SEARCH_ENGINE", "whoosh")
        self.SEARCH_INDEX_DIR = os.environ.get("SEARCH_INDEX_DIR") or str(folder / "index")
        self.UPLOAD_DIR = os.environ.get("UPLOAD_DIR") or str(folder / "uploads")
        self.REDIS_URL = os.environ.get("REDIS_URL") or None
        # several markets (or test runs) may share one Redis: every key starts with this
        self.REDIS_PREFIX = os.environ.get("REDIS_PREFIX", "market:")
        # Redis is optional in fact (market/redisconn.py): a command not answered within this many seconds (connect
        # or read) counts as Redis down; then the throttles use the database and job messages wait for the sweep,
        # and Redis is tried again after REDIS_RETRY_SECONDS
        self.REDIS_TIMEOUT_SECONDS = float(os.environ.get("REDIS_TIMEOUT_SECONDS", 0.3))
        self.REDIS_RETRY_SECONDS = float(os.environ.get("REDIS_RETRY_SECONDS", 5))
        self.MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", 16 * 1024 * 1024))
        self.TRUSTED_HOSTS = [h for h in os.environ.get("TRUSTED_HOSTS", "").split(",") if h] or None
        # behind a reverse proxy: how many proxies' X-Forwarded-For/-Proto/-Host to trust (0 = none)
        self.PROXY_FIX = _proxy_hops(os.environ.get("PROXY_FIX", ""))
        self.PREFERRED_URL_SCHEME = "https" if _bool("HTTPS", False) else "http"
        secure = _bool("HTTPS", False)
        self.SESSION_COOKIE_SECURE = secure
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.REMEMBER_COOKIE_SECURE = secure
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        self.REMEMBER_COOKIE_DURATION = timedelta(days=7)
        self.PERMANENT_SESSION_LIFETIME = timedelta(hours=8)
        self.WTF_CSRF_TIME_LIMIT = 8 * 3600
        self.WTF_I18N_ENABLED = False  # WTForms' own zh messages (no Flask-Babel)
        self.PAGE_SIZE = 20
        # the most one technology contract may be worth (合同成交额, 技术交易额, one payment), in 元: a typo or a
        # forged import of 1万亿元 is refused with a message naming it; at most NUMERIC(18, 2)'s 9999999999999999.99
        self.CONTRACT_MAX_AMOUNT_YUAN = parse_contract_ceiling(
            os.environ.get("CONTRACT_MAX_AMOUNT_YUAN", DEFAULT_CONTRACT_MAX_YUAN))
        # 数据核查 大额: contracts at or above this 成交额 (元); 填报单位 on the report tables (default: the region's
        # name + 科学技术局). A threshold that is not an amount stops the start, never a page.
        self.DASHBOARD_LARGE_CONTRACT_YUAN = parse_amount_setting(
            "DASHBOARD_LARGE_CONTRACT_YUAN", os.environ.get("DASHBOARD_LARGE_CONTRACT_YUAN", "100000000"))
        self.REPORT_FILER = os.environ.get("REPORT_FILER", "")
        # public pages served to anonymous visitors from memory; listing changes show at once, anything else
        # on those pages (organisation names, the taxonomy) at most this old; 0 turns the cache off
        self.PAGE_CACHE_SECONDS = float(os.environ.get("PAGE_CACHE_SECONDS", 60))
        # how often a worker reads the change log's newest number (a commit in the worker itself re-reads at once)
        self.PAGE_CACHE_VERSION_CHECK = float(os.environ.get("PAGE_CACHE_VERSION_CHECK", 0.25))
        self.PAGE_CACHE_ENTRIES = int(os.environ.get("PAGE_CACHE_ENTRIES", 512))  # pages kept per worker
        # a signed-in user's main pages kept per user and session in the worker (market/usercache.py): dropped by
        # any committed write (permission changes, logouts and revocations are writes) and at the session's end,
        # and at most this old; 0 turns it off
        self.USER_PAGE_CACHE_SECONDS = float(os.environ.get("USER_PAGE_CACHE_SECONDS", 60))
        self.USER_PAGE_CACHE_ENTRIES = int(os.environ.get("USER_PAGE_CACHE_ENTRIES", 1024))  # pages kept per worker
        # no automatic OPTIONS answers: every non-public URL refuses anonymous requests on every method
        # (405 here); nothing in the app serves cross-origin preflights
        self.PROVIDE_AUTOMATIC_OPTIONS = False
        # background jobs (market/jobs): "sqlite" (embedded, <instance>/jobs.sqlite3), "redis" (REDIS_URL, every
        # node shares the queue) or "immediate" (run in-process right after the commit); default: redis when
        # REDIS_URL is set, else sqlite
        self.JOBS_BACKEND = os.environ.get("JOBS_BACKEND", "")
        self.JOBS_SQLITE_PATH = os.environ.get("JOBS_SQLITE_PATH") or str(folder / "jobs.sqlite3")
        # a running job not finished within its lease (capped here) is taken to have died and is sent again
        self.JOBS_MAX_LEASE_SECONDS = int(os.environ.get("JOBS_MAX_LEASE_SECONDS", 900))
        # e-mail of notifications (market/notifications/mail.py), sent by the "mail.send" / "mail.digest" jobs;
        # no MAIL_SERVER: notices stay in the site only and the administrator's pages say so
        self.MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
        self.MAIL_PORT = int(os.environ.get("MAIL_PORT", 25))
        self.MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
        self.MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
        self.MAIL_USE_TLS = _bool("MAIL_USE_TLS", False)  # STARTTLS on a plain connection (port 587)
        self.MAIL_USE_SSL = _bool("MAIL_USE_SSL", False)  # TLS from the first byte (port 465)
        self.MAIL_FROM = os.environ.get("MAIL_FROM", "科技大市场 <noreply@localhost>")
        self.MAIL_TIMEOUT = float(os.environ.get("MAIL_TIMEOUT", 10))
        self.MAIL_DIGEST_HOUR = int(os.environ.get("MAIL_DIGEST_HOUR", 8))  # China time: daily digests after it
        self.SITE_URL = os.environ.get("SITE_URL", "http://localhost:5000")  # links in mails
        # sign-in throttle (market/auth/throttle.py): growing delays, never a lock-out of the owner. Failures on an
        # account before the addresses failing on it wait; addresses failing on one account before clean
        # addresses wait too; accounts one address may fail on before it waits on further ones
        self.LOGIN_FREE_FAILURES = int(os.environ.get("LOGIN_FREE_FAILURES", 5))
        self.LOGIN_FREE_ADDRESSES = int(os.environ.get("LOGIN_FREE_ADDRESSES", 10))
        self.LOGIN_FREE_ACCOUNTS = int(os.environ.get("LOGIN_FREE_ACCOUNTS", 20))
        # the first wait, doubled with each further failure up to the cap
        self.LOGIN_FIRST_DELAY_SECONDS = float(os.environ.get("LOGIN_FIRST_DELAY_SECONDS", 2))
        self.LOGIN_MAX_DELAY_SECONDS = float(os.environ.get("LOGIN_MAX_DELAY_SECONDS", 900))
        self.LOGIN_WINDOW_SECONDS = int(os.environ.get("LOGIN_WINDOW_SECONDS", 86400))  # failures remembered
        # an address the account signed in from within this many days skips the clean-address waits (0 = never)
        self.LOGIN_KNOWN_ADDRESS_DAYS = int(os.environ.get("LOGIN_KNOWN_ADDRESS_DAYS", 90))
        # registration attempts (valid forms) per address in a sliding window
        self.REGISTER_MAX_PER_ADDRESS = int(os.environ.get("REGISTER_MAX_PER_ADDRESS", 10))
        self.REGISTER_WINDOW_SECONDS = int(os.environ.get("REGISTER_WINDOW_SECONDS", 3600))
        # seconds added to the throttles' clock: tests step time forward with it instead of sleeping
        self.THROTTLE_CLOCK_OFFSET = 0.0
        for name, default in IMPORT_LIMITS.items():
            setattr(self, name, int(os.environ.get(name, default)))
        # a web import of more rows than this is checked and stored by a background job (progress and result page)
        self.IMPORT_SYNC_ROWS = int(os.environ.get("IMPORT_SYNC_ROWS", 1000))
        # the period of a 协议定价 公示 in days, unless its publisher chooses another (5-90; issue 20, market/transfers)
        self.DISCLOSURE_DAYS = int(os.environ.get("DISCLOSURE_DAYS", 15))
