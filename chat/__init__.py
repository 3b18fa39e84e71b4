"""A real-time chat server: Flask + Flask-SocketIO, served by gunicorn."""

import logging
import secrets
import sys
import threading
from pathlib import Path

from engineio.payload import Payload
from flask import Flask, abort

# Each capability's module with socket events registers them on `socketio` when imported.
from .accounts import avatars, oidc, profiles, settings
from .accounts import pages as account_pages
from .admin import reports as admin_reports
from .admin import routes as admin_routes
from .admin.actions import init_app as init_admin
from .asyncmode import detect_async_mode
from .cli import init_app as init_cli
from .cluster.queue import init_app as client_manager
from .config import Config, ConfigError
from .connections.lifecycle import guard_catch_all, guard_event_names
from .database import configure_database
from .errors import register_error_handler, register_http_errors
from .export import routes as data_pages
from .extensions import csrf, db, login_manager, migrate, socketio
from .i18n import init_app as init_i18n
from .messages import edits, events, history  # noqa: F401  (socket events)
from .messages.pipeline import install as install_pipeline
from .metrics import init_app as init_metrics
from .notify import events as notify_events
from .pins import events as pin_events
from .presence import events as presence_events
from .push import subscriptions as push_subscriptions
from .push import worker as push_worker
from .retention import routes as retention_routes
from .retention.job import init_app as init_retention
from .rooms import directory
from .rooms import events as room_events  # noqa: F401  (socket events)
from .search import events as search_events
from .threads import events as thread_events  # noqa: F401  (socket events)
from .threads import history as thread_history
from .tokens import hooks as token_hooks
from .tokens import routes as token_pages
from .tokens.auth import init_app as init_tokens
from .uploads.routes import init_app as init_uploads
from .web import health, pages
from .web.security import SocketSessionInterface, add_security_headers, trust_proxies

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("chat")
BLUEPRINTS = (
    pages.bp,
    account_pages.bp,
    oidc.bp,
    history.bp,
    thread_history.bp,
    directory.bp,
    presence_events.bp,
    edits.bp,
    search_events.bp,
    health.bp,
    profiles.bp,
    avatars.bp,
    settings.bp,
    token_pages.bp,
    token_hooks.bp,
    retention_routes.bp,
    data_pages.bp,
    admin_routes.bp,
    admin_reports.bp,
    pin_events.bp,
    notify_events.bp,
    push_subscriptions.bp,
    push_worker.bp,
)


def create_app(config=None):
    """Build the app: configuration, pages, socket events."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    config = config if config is not None else Config()
    app.config.from_object(config)
    configure_logging(app.config["LOG_LEVEL"])
    ensure_secret_key(app)

    app.session_interface = SocketSessionInterface()
    configure_database(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    login_manager.init_app(app)
    login_manager.login_view = "users.login_page"
    csrf.init_app(app)
    init_tokens(app)  # Bearer tokens on the API; CSRF for every other write
    init_i18n(app)
    oidc.init_app(app)  # single sign-on, when CHAT_OIDC_ISSUER is set
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    init_uploads(app)  # its routes, and MAX_CONTENT_LENGTH (Engine.IO's polling POSTs never reach Flask)
    init_metrics(app)
    init_retention(app)  # the periodic prune starts with the first request
    app.after_request(add_security_headers)
    trust_proxies(app)  # X-Forwarded-For only from CHAT_TRUSTED_PROXIES proxies

    # The maintainers' documented knob for batched long-polling POSTs (python-engineio#142).
    Payload.max_decode_packets = app.config["CHAT_MAX_POLLING_PACKETS"]
    async_mode = app.config["CHAT_ASYNC_MODE"] or detect_async_mode()
    socketio.init_app(
        app,
        async_mode=async_mode,
        client_manager=client_manager(app),  # Redis when CHAT_MESSAGE_QUEUE is set
        cors_allowed_origins=app.config["CHAT_CORS_ORIGINS"],
        max_http_buffer_size=app.config["CHAT_MAX_HTTP_BUFFER_SIZE"],
        ping_interval=app.config["CHAT_PING_INTERVAL"],
        ping_timeout=app.config["CHAT_PING_TIMEOUT"],
        http_compression=True,
        # Events of one connection are handled in arrival order (a message may wait for the next
        # commit meanwhile: chat/messages/pipeline.py).
        async_handlers=False,
        logger=False,
        engineio_logger=False,
    )
    register_error_handler(socketio)
    install_pipeline(
        socketio.server,
        app.config["CHAT_PIPELINE_DEPTH"],
        app.config["CHAT_PIPELINE_LIMIT"],
        app.config["CHAT_PIPELINE_TIMEOUT"],
    )
    guard_catch_all(socketio.server)
    guard_event_names(socketio.server)
    register_http_errors(app)
    route_socketio_path(app)
    app.wsgi_app = WebSocketEnviron(
        app.wsgi_app,
        drop_compression=not app.config["CHAT_WEBSOCKET_COMPRESSION"],
        eventlet_input=async_mode == "eventlet",
        socket_timeout=app.config["CHAT_SOCKET_TIMEOUT"] or None,
    )
    init_cli(app)
    init_admin(app)  # after Socket.IO: a room deleted on another node is forgotten here too
    log.info("chat app ready (async_mode=%s, env=%s)", async_mode, app.config["CHAT_ENV"])
    return app


def route_socketio_path(app, path="socket.io"):
    """Give Flask's URL map a rule for the Socket.IO endpoint's path.

    Flask-SocketIO pushes a request context for every event, and each push matches the
    connection's URL (/socket.io/?…) against the URL map. Without a rule the match fails and
    Flask keeps the NotFound, with its traceback, on the request: a reference cycle of ~57
    objects per event that only the garbage collector frees, and whose collections set most of
    s1's p99 (BENCHMARKS.md). Engine.IO's middleware answers this path before Flask does, so
    the view runs only if a request gets past it.
    """
    rule = dict(endpoint="socketio", view_func=_not_found, strict_slashes=False)
    app.add_url_rule(f"/{path}/", methods=["GET", "POST"], **rule)
    # A connection that opened as a WebSocket keeps its upgrade request as its environ.
    app.add_url_rule(f"/{path}/", websocket=True, **rule)


def _not_found():
    abort(404)


class EventletInput:
    """gunicorn's socket in the shape eventlet's websocket reads it from (environ['eventlet.input'])."""

    __slots__ = ("socket",)

    def __init__(self, socket):
        self.socket = socket

    def get_socket(self):
        return self.socket


class WebSocketEnviron:
    """WSGI middleware: prepare the environ of a request before engine.io sees it.

    drop_compression: remove the client's permessage-deflate offer before the WebSocket
    handshake. Browsers offer it and eventlet (like simple-websocket) accepts whatever is
    offered; a compressor per connection costs about 2.5 times the memory and more CPU per
    message, for chat frames too small to gain from it (Node's socket.io leaves it off too).

    eventlet_input (gunicorn's eventlet worker): hand gunicorn's socket to eventlet's websocket
    as `eventlet.input`. python-engineio's middleware does it for every request that carries
    `gunicorn.socket`, with a class it defines anew per request, which each websocket then holds
    for its lifetime (2.7 MB per 1,000 connections, BENCHMARKS.md "Where the memory goes").
    A WebSocket request's `wsgi.errors` also becomes the `chat.websocket` logger (see
    WebSocketErrors).

    Elsewhere (gevent, flask run: simple-websocket serves the WebSocket), the client's socket
    is handed over as WholeSends, whose send() writes all of a frame, with `socket_timeout`
    (CHAT_SOCKET_TIMEOUT) on its sends and reads: a client that stops reading is dropped after
    it, where eventlet drops it at its ping timeout (tests/test_stalled_clients.py).
    """

    def __init__(self, wsgi_app, drop_compression=True, eventlet_input=False, socket_timeout=None):
        self.wsgi_app = wsgi_app
        self.drop_compression = drop_compression
        self.eventlet_input = eventlet_input
        self.socket_timeout = socket_timeout

    def __call__(self, environ, start_response):
        if self.drop_compression:
            environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
        websocket = environ.get("HTTP_UPGRADE", "").lower() == "websocket"
        if self.eventlet_input:
            if "gunicorn.socket" in environ and "eventlet.input" not in environ:
                environ["eventlet.input"] = EventletInput(environ.pop("gunicorn.socket"))
            if websocket:
                environ["wsgi.errors"] = WEBSOCKET_ERRORS
        elif websocket:
            for key in ("gunicorn.socket", "werkzeug.socket"):
                if key in environ:
                    environ[key] = WholeSends(environ[key], self.socket_timeout)
        return self.wsgi_app(environ, start_response)


class WholeSends:
    """The client's socket as simple-websocket gets it: send() writes the whole frame.

    simple-websocket 1.1.0 writes each frame with one `socket.send()` and ignores how much it
    took (simple-websocket#45, fixed upstream, not released). On gevent a send to a client whose
    buffers are full takes part of a frame, and the rest is lost: the client reads garbage and
    drops the connection. Here send() is sendall(), one frame at a time (the writer green thread
    and the reader's control frames must not interleave the parts of two frames).

    timeout: seconds a send or a read may wait (None: forever). simple-websocket's reader and
    Engine.IO's writer end on it, and the connection with them.
    """

    __slots__ = ("_socket", "_lock")

    def __init__(self, sock, timeout=None):
        self._socket = sock
        self._lock = threading.Lock()  # gevent's, where gevent has patched threading
        if timeout is not None:
            sock.settimeout(timeout)

    def send(self, data, flags=0):
        with self._lock:
            self._socket.sendall(data, flags)
        return len(data)

    def __getattr__(self, name):
        return getattr(self._socket, name)


class WebSocketErrors:
    """`wsgi.errors` for eventlet's WebSocket requests: each write becomes a log record.

    eventlet's websocket writes one message there when shutting its socket down fails. Every
    client that ends with a close frame causes one: eventlet closes the socket on the frame, then
    engine.io's writer closes the websocket again and the shutdown finds the descriptor gone
    (EBADF). Written raw to gunicorn's error stream, that was a line without a newline per
    disconnect. A failed shutdown of a connection that is ending anyway is routine: DEBUG on
    the `chat.websocket` logger; anything else eventlet writes there is a WARNING.
    """

    logger = logging.getLogger("chat.websocket")

    def write(self, text):
        text = str(text).strip()
        if text:
            routine = "socket shutdown error" in text
            self.logger.log(logging.DEBUG if routine else logging.WARNING, "%s", text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        pass


WEBSOCKET_ERRORS = WebSocketErrors()


def ensure_secret_key(app):
    if app.config.get("SECRET_KEY"):
        return
    if app.config["CHAT_ENV"] == "production":
        raise ConfigError("SECRET_KEY must be set when CHAT_ENV=production.")
    app.config["SECRET_KEY"] = secrets.token_hex(32)
    log.warning(
        "SECRET_KEY is not set: using a random key for this process (sessions end on restart). "
        "Set SECRET_KEY in the environment."
    )


def configure_logging(level):
    logger = logging.getLogger("chat")
    logger.setLevel(level)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
