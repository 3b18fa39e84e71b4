"""Configuration read from the environment, with safe development defaults."""

import os
import tempfile
from pathlib import Path

from limits import parse_many

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"


class ConfigError(RuntimeError):
    """The environment holds a value the app cannot start with."""


def env_number(name, default, minimum, kind, maximum=None):
    """A number of type `kind` from the environment, or a clear error naming the variable."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        article = "an integer" if kind is int else "a number"
        raise ConfigError(f"{name} must be {article}, got {raw!r}") from None
    if not value >= minimum:  # NaN too
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and not value <= maximum:
        raise ConfigError(f"{name} must be at most {maximum}, got {value}")
    return value


def env_int(name, default, minimum=0, maximum=None):
    return env_number(name, default, minimum, int, maximum)


def env_float(name, default, minimum=0.0):
    return env_number(name, default, minimum, float)


def env_bool(name, default):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in ("1", "true", "yes", "on")


def database_url(raw):
    """Normalise a DATABASE_URL: PostgreSQL goes through pg8000, a pure-Python driver that
    cooperates with eventlet and gevent (a blocking C driver would stall every client)."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://", "postgresql+psycopg://"):
        if raw.startswith(prefix):
            return "postgresql+pg8000://" + raw[len(prefix) :]
    return raw


def env_list(name):
    """A comma-separated list, or None when the variable is unset or empty."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_rate_limit(name, default):
    """A rate such as "10 per 10 minutes" (the `limits` library's notation), or None for "off"/"0"."""
    raw = (os.environ.get(name) or "").strip() or default
    if raw.lower() in ("off", "0", "none"):
        return None
    try:
        parse_many(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a rate such as '10 per 10 minutes' or 'off', got {raw!r}") from None
    return raw


def env_choice(name, choices):
    """One of `choices` (the first is the default), or a clear error naming the variable."""
    raw = (os.environ.get(name) or "").strip().lower() or choices[0]
    if raw not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


class Config:
    """Settings for a real run; every value can be set through the environment."""

    TESTING = False

    def __init__(self):
        self.CHAT_ENV = os.environ.get("CHAT_ENV", "development").strip().lower()
        self.SECRET_KEY = os.environ.get("SECRET_KEY") or None
        self.LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
        # Storage: an SQLite file in the instance folder unless DATABASE_URL says otherwise.
        self.SQLALCHEMY_DATABASE_URI = database_url(
            os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'chat.db'}"
        )
        # No pre-ping: it would cost a round trip on every socket event; connections are
        # recycled instead, and a dropped one fails one request, not the process.
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_recycle": 1800}
        # A server database's pool (joins, history, pages; messages are stored through one
        # more connection per process, chat/messages/writer.py). SQLite ignores these.
        self.CHAT_DB_POOL_SIZE = env_int("CHAT_DB_POOL_SIZE", 5, 1)
        self.CHAT_DB_MAX_OVERFLOW = env_int("CHAT_DB_MAX_OVERFLOW", 10, 0)
        self.CHAT_DB_POOL_TIMEOUT = env_int("CHAT_DB_POOL_TIMEOUT", 30, 1)
        # PostgreSQL: pages of history are read outside a transaction, through a pool of their
        # own (chat/database.py, read_connection).
        self.CHAT_DB_READ_POOL_SIZE = env_int("CHAT_DB_READ_POOL_SIZE", 5, 1)
        # The message connection is checked with a round trip before its first use after this
        # many idle seconds (a restarted database then costs no message; 0: before every use).
        self.CHAT_DB_PING_AFTER = env_float("CHAT_DB_PING_AFTER", 10.0, 0.0)
        # PostgreSQL under eventlet or gevent: milliseconds the message connection waits for an
        # answer without yielding to the loop (chat/pgwire.py, AnswerWait; 0: never).
        self.CHAT_DB_ANSWER_WAIT_MS = env_int("CHAT_DB_ANSWER_WAIT_MS", 2, 0, 10)
        # PostgreSQL: statements the message connection keeps prepared on the server (0: none).
        self.CHAT_DB_PREPARED_STATEMENTS = env_int("CHAT_DB_PREPARED_STATEMENTS", 32, 0, 1000)
        # Identity
        self.CHAT_ALLOW_GUESTS = env_bool("CHAT_ALLOW_GUESTS", True)
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", self.CHAT_ENV == "production")
        self.REMEMBER_COOKIE_SECURE = self.SESSION_COOKIE_SECURE
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        self.WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
        # History
        self.CHAT_HISTORY_ON_JOIN = env_int("CHAT_HISTORY_ON_JOIN", 50, 0)
        self.CHAT_HISTORY_PAGE_MAX = env_int("CHAT_HISTORY_PAGE_MAX", 200, 1)
        self.CHAT_REPLAY_LIMIT = env_int("CHAT_REPLAY_LIMIT", 500, 1)
        self.CHAT_THREAD_PARTICIPANTS = env_int("CHAT_THREAD_PARTICIPANTS", 5, 1)  # repliers on a root's summary
        self.CHAT_THREADS_LISTED = env_int("CHAT_THREADS_LISTED", 100, 1)  # list_threads' longest answer
        self.CHAT_MAX_NAME_LENGTH = env_int("CHAT_MAX_NAME_LENGTH", 32, 1)
        self.CHAT_MIN_PASSWORD_LENGTH = env_int("CHAT_MIN_PASSWORD_LENGTH", 8, 1)
        self.CHAT_MAX_PASSWORD_LENGTH = env_int("CHAT_MAX_PASSWORD_LENGTH", 128, 8)
        # Socket.IO engine
        self.CHAT_ASYNC_MODE = os.environ.get("CHAT_ASYNC_MODE") or None
        self.CHAT_CORS_ORIGINS = env_list("CHAT_CORS_ORIGINS")
        self.CHAT_MAX_HTTP_BUFFER_SIZE = env_int("CHAT_MAX_HTTP_BUFFER_SIZE", 1_000_000, 1024)
        self.CHAT_PING_INTERVAL = env_float("CHAT_PING_INTERVAL", 25.0, 1.0)
        self.CHAT_PING_TIMEOUT = env_float("CHAT_PING_TIMEOUT", 20.0, 1.0)
        # gevent and flask run (simple-websocket): how long a WebSocket's send or read may wait
        # before the connection is dropped. A client that stops reading would otherwise hold its
        # socket, its green threads and its queued frames after its ping timeout, for as long as
        # it keeps the TCP connection open (eventlet drops it at the ping timeout). Longer than a
        # ping round: a live client answers every CHAT_PING_INTERVAL. 0: no limit.
        ping_round = self.CHAT_PING_INTERVAL + self.CHAT_PING_TIMEOUT
        self.CHAT_SOCKET_TIMEOUT = env_float("CHAT_SOCKET_TIMEOUT", ping_round + 15.0, 0.0)
        if 0 < self.CHAT_SOCKET_TIMEOUT <= ping_round:
            raise ConfigError(
                "CHAT_SOCKET_TIMEOUT must be longer than CHAT_PING_INTERVAL + CHAT_PING_TIMEOUT"
                f" ({ping_round:g} s), or 0, got {self.CHAT_SOCKET_TIMEOUT:g}"
            )
        # A long-polling client batches what it queued into one POST; python-engineio refuses
        # (and drops) a POST of more than 16 packets unless told otherwise. The POST's size
        # stays capped by CHAT_MAX_HTTP_BUFFER_SIZE.
        self.CHAT_MAX_POLLING_PACKETS = env_int("CHAT_MAX_POLLING_PACKETS", 1000, 16)
        # Messages of one connection queued for the next group commit while one is in flight
        # (chat/messages/pipeline.py); 0: each is stored before the connection's next frame is read.
        self.CHAT_PIPELINE_DEPTH = env_int("CHAT_PIPELINE_DEPTH", 32, 0)
        self.CHAT_PIPELINE_LIMIT = env_int("CHAT_PIPELINE_LIMIT", 2000, 0)  # in the process
        # How long a connection's next event (or its disconnect) waits for its queued messages.
        self.CHAT_PIPELINE_TIMEOUT = env_float("CHAT_PIPELINE_TIMEOUT", 10.0, 0.1)
        self.CHAT_WEBSOCKET_COMPRESSION = env_bool("CHAT_WEBSOCKET_COMPRESSION", False)
        # Several nodes: Flask-SocketIO's Redis message queue (redis://host:6379/0), one channel
        # per cluster; metrics for operators (empty path: off; a token: Bearer auth).
        self.CHAT_MESSAGE_QUEUE = os.environ.get("CHAT_MESSAGE_QUEUE", "").strip() or None
        self.CHAT_QUEUE_CHANNEL = os.environ.get("CHAT_QUEUE_CHANNEL", "").strip() or "flask-socketio"
        # A stored message from the queue that arrives before the one ahead of it is held this
        # long for it (chat/cluster/sequence.py); at most this many are held per node.
        self.CHAT_QUEUE_REORDER_WAIT = env_float("CHAT_QUEUE_REORDER_WAIT", 0.5, 0.0)
        self.CHAT_QUEUE_REORDER_LIMIT = env_int("CHAT_QUEUE_REORDER_LIMIT", 1000, 0)
        self.CHAT_METRICS_PATH = os.environ.get("CHAT_METRICS_PATH", "/metrics").strip()
        self.CHAT_METRICS_TOKEN = os.environ.get("CHAT_METRICS_TOKEN") or None
        # Protective limits
        self.CHAT_MAX_MESSAGE_LENGTH = env_int("CHAT_MAX_MESSAGE_LENGTH", 4000, 1)
        self.CHAT_MAX_ROOM_LENGTH = env_int("CHAT_MAX_ROOM_LENGTH", 100, 1)
        self.CHAT_MAX_ROOMS_PER_CONNECTION = env_int("CHAT_MAX_ROOMS_PER_CONNECTION", 50, 1)
        self.CHAT_MAX_TOPIC_LENGTH = env_int("CHAT_MAX_TOPIC_LENGTH", 500, 1)
        self.CHAT_MAX_REACTIONS_PER_MESSAGE = env_int("CHAT_MAX_REACTIONS_PER_MESSAGE", 20, 1)
        self.CHAT_MAX_PINS_PER_ROOM = env_int("CHAT_MAX_PINS_PER_ROOM", 50, 1)
        self.CHAT_MAX_SEARCH_LENGTH = env_int("CHAT_MAX_SEARCH_LENGTH", 200, 1)
        # Writes per second (and burst) per connection and per user; 0 turns a limit off.
        self.CHAT_RATE_LIMIT = env_float("CHAT_RATE_LIMIT", 10.0, 0.0)
        self.CHAT_RATE_BURST = env_int("CHAT_RATE_BURST", 20, 1)
        self.CHAT_USER_RATE_LIMIT = env_float("CHAT_USER_RATE_LIMIT", 20.0, 0.0)
        self.CHAT_USER_RATE_BURST = env_int("CHAT_USER_RATE_BURST", 40, 1)
        self.CHAT_MAX_CONNECTIONS_PER_USER = env_int("CHAT_MAX_CONNECTIONS_PER_USER", 20, 1)
        # Presence: a node's connections count while its heartbeat is younger than this.
        self.CHAT_PRESENCE_TIMEOUT = env_float("CHAT_PRESENCE_TIMEOUT", 30.0, 1.0)
        self.CHAT_AWAY_AFTER = env_float("CHAT_AWAY_AFTER", 300.0, 1.0)
        self.CHAT_TYPING_INTERVAL = env_float("CHAT_TYPING_INTERVAL", 2.0, 0.0)
        # Uploads: files on disk under random names (shared by every node of a cluster).
        self.CHAT_UPLOAD_FOLDER = str(Path(os.environ.get("CHAT_UPLOAD_FOLDER") or INSTANCE_DIR / "uploads").absolute())
        self.CHAT_MAX_UPLOAD_SIZE = env_int("CHAT_MAX_UPLOAD_SIZE", 10 * 1024 * 1024, 1)
        self.CHAT_UPLOAD_THUMBNAIL_SIZE = env_int("CHAT_UPLOAD_THUMBNAIL_SIZE", 320, 16)
        # Pixels in one image (width × height): a small file can decode into gigabytes.
        self.CHAT_UPLOAD_MAX_PIXELS = env_int("CHAT_UPLOAD_MAX_PIXELS", 40_000_000, 1)
        # The trust boundary (issue 18): blocking work off the event loop (chat/blocking.py),
        # password guessing throttled (chat/accounts/login_throttle.py), the proxies whose
        # X-Forwarded-For is believed.
        self.CHAT_BLOCKING_THREADS = env_int("CHAT_BLOCKING_THREADS", 2, 1)
        self.CHAT_BLOCKING_QUEUE = env_int("CHAT_BLOCKING_QUEUE", 32, 0)
        self.CHAT_LOGIN_ACCOUNT_LIMIT = env_rate_limit("CHAT_LOGIN_ACCOUNT_LIMIT", "10 per 10 minutes")
        self.CHAT_LOGIN_ADDRESS_LIMIT = env_rate_limit("CHAT_LOGIN_ADDRESS_LIMIT", "30 per 10 minutes")
        self.CHAT_LOGIN_LIMIT_STORAGE = os.environ.get("CHAT_LOGIN_LIMIT_STORAGE", "").strip() or None
        self.CHAT_TRUSTED_PROXIES = env_int("CHAT_TRUSTED_PROXIES", 0, 0)
        # Single sign-on with OpenID Connect (chat/accounts/oidc.py): off unless an issuer is set.
        self.CHAT_OIDC_ISSUER = os.environ.get("CHAT_OIDC_ISSUER", "").strip() or None
        self.CHAT_OIDC_CLIENT_ID = os.environ.get("CHAT_OIDC_CLIENT_ID", "").strip() or None
        self.CHAT_OIDC_CLIENT_SECRET = os.environ.get("CHAT_OIDC_CLIENT_SECRET") or None
        self.CHAT_OIDC_NAME = os.environ.get("CHAT_OIDC_NAME", "").strip() or "SSO"
        self.CHAT_OIDC_SCOPE = os.environ.get("CHAT_OIDC_SCOPE", "").strip() or "openid profile"
        self.CHAT_OIDC_CREATE_USERS = env_bool("CHAT_OIDC_CREATE_USERS", True)
        self.CHAT_OIDC_TIMEOUT = env_float("CHAT_OIDC_TIMEOUT", 5.0, 0.1)
        self.CHAT_OIDC_CLOCK_SKEW = env_int("CHAT_OIDC_CLOCK_SKEW", 60, 0)
        self.CHAT_SSO_ONLY = env_bool("CHAT_SSO_ONLY", False)
        # Profiles and passwords (issue 22, chat/accounts/): statuses, avatars, reset by email.
        self.CHAT_MAX_STATUS_LENGTH = env_int("CHAT_MAX_STATUS_LENGTH", 100, 1)
        self.CHAT_MAX_AVATAR_SIZE = env_int("CHAT_MAX_AVATAR_SIZE", 5 * 1024 * 1024, 1)
        self.CHAT_AVATAR_PIXELS = env_int("CHAT_AVATAR_PIXELS", 128, 16)
        # Authors' display names and avatars on payloads (chat/messages/authors.py): cached per node.
        self.CHAT_AUTHOR_CACHE_TTL = env_float("CHAT_AUTHOR_CACHE_TTL", 30.0, 0.0)
        self.CHAT_AUTHOR_CACHE_SIZE = env_int("CHAT_AUTHOR_CACHE_SIZE", 10000, 1)
        self.CHAT_SMTP_HOST = os.environ.get("CHAT_SMTP_HOST", "").strip() or None
        self.CHAT_SMTP_PORT = env_int("CHAT_SMTP_PORT", 587, 1)
        self.CHAT_SMTP_USER = os.environ.get("CHAT_SMTP_USER") or None
        self.CHAT_SMTP_PASSWORD = os.environ.get("CHAT_SMTP_PASSWORD") or None
        self.CHAT_SMTP_STARTTLS = env_bool("CHAT_SMTP_STARTTLS", True)
        self.CHAT_SMTP_FROM = os.environ.get("CHAT_SMTP_FROM", "").strip() or None
        self.CHAT_SMTP_TIMEOUT = env_float("CHAT_SMTP_TIMEOUT", 10.0, 1.0)
        # The site's own address (links and redirect URIs are built from it, never the Host header).
        self.CHAT_BASE_URL = (os.environ.get("CHAT_BASE_URL", "").strip().rstrip("/")) or None
        self.CHAT_RESET_TOKEN_TTL = env_int("CHAT_RESET_TOKEN_TTL", 3600, 60)
        self.CHAT_RESET_ACCOUNT_LIMIT = env_rate_limit("CHAT_RESET_ACCOUNT_LIMIT", "3 per hour")
        self.CHAT_RESET_ADDRESS_LIMIT = env_rate_limit("CHAT_RESET_ADDRESS_LIMIT", "10 per hour")
        # One's own data and retention (chat/retention/, chat/export/): days messages are kept
        # (0: forever), seconds between prunes (0: no periodic job), a deleted account's messages.
        self.CHAT_RETENTION_DAYS = env_int("CHAT_RETENTION_DAYS", 0, 0)
        self.CHAT_PRUNE_INTERVAL = env_float("CHAT_PRUNE_INTERVAL", 3600.0, 0.0)
        self.CHAT_DELETED_USER_MESSAGES = env_choice("CHAT_DELETED_USER_MESSAGES", ("keep", "erase"))
        # Administration (chat/admin): reports' reasons, the longest mute, rows per /admin page.
        self.CHAT_MAX_REPORT_LENGTH = env_int("CHAT_MAX_REPORT_LENGTH", 1000, 1)
        self.CHAT_MAX_MUTE_MINUTES = env_int("CHAT_MAX_MUTE_MINUTES", 525_600, 1)
        self.CHAT_ADMIN_PAGE_SIZE = env_int("CHAT_ADMIN_PAGE_SIZE", 50, 1)
        # Web Push (chat/push): VAPID keys (env, else CHAT_VAPID_FILE, made at first start), the
        # contact push services see, limits on subscriptions and the delivery queue.
        self.CHAT_VAPID_PRIVATE_KEY = os.environ.get("CHAT_VAPID_PRIVATE_KEY", "").strip() or None
        self.CHAT_VAPID_PUBLIC_KEY = os.environ.get("CHAT_VAPID_PUBLIC_KEY", "").strip() or None
        self.CHAT_VAPID_FILE = os.environ.get("CHAT_VAPID_FILE", "").strip() or str(INSTANCE_DIR / "vapid.pem")
        self.CHAT_VAPID_SUBJECT = os.environ.get("CHAT_VAPID_SUBJECT", "").strip() or None
        self.CHAT_PUSH_HOSTS = env_list("CHAT_PUSH_HOSTS")
        self.CHAT_PUSH_MAX_SUBSCRIPTIONS = env_int("CHAT_PUSH_MAX_SUBSCRIPTIONS", 10, 1)
        self.CHAT_PUSH_MAX_ENDPOINT = env_int("CHAT_PUSH_MAX_ENDPOINT", 1024, 64)
        self.CHAT_PUSH_QUEUE = env_int("CHAT_PUSH_QUEUE", 1000, 1)
        self.CHAT_PUSH_TIMEOUT = env_float("CHAT_PUSH_TIMEOUT", 10.0, 0.1)
        self.CHAT_PUSH_TTL = env_int("CHAT_PUSH_TTL", 86400, 0)
        self.CHAT_PUSH_EXCERPT = env_int("CHAT_PUSH_EXCERPT", 140, 1)


class TestConfig(Config):
    """Settings for the test suite: a fixed key, no production checks."""

    TESTING = True
    __test__ = False  # not a pytest test class

    def __init__(self, **overrides):
        super().__init__()
        self.CHAT_ENV = "testing"
        self.SECRET_KEY = "test-secret-key"
        self.CHAT_ASYNC_MODE = "threading"
        self.SQLALCHEMY_DATABASE_URI = database_url(os.environ.get("CHAT_TEST_DATABASE_URL") or "sqlite://")
        # Tests send bursts; the rate-limit tests turn the limits back on.
        self.CHAT_RATE_LIMIT = 0.0
        self.CHAT_USER_RATE_LIMIT = 0.0
        # Never the developer's instance/uploads (created only when a test uploads).
        self.CHAT_UPLOAD_FOLDER = str(Path(tempfile.gettempdir()) / f"chat-test-uploads-{os.getpid()}")
        # Tests log in often; the login throttle's tests turn it back on.
        self.CHAT_LOGIN_ACCOUNT_LIMIT = None
        self.CHAT_LOGIN_ADDRESS_LIMIT = None
        self.CHAT_VAPID_FILE = str(Path(tempfile.gettempdir()) / f"chat-test-vapid-{os.getpid()}.pem")
        for key, value in overrides.items():
            setattr(self, key, value)
