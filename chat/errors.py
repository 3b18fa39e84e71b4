"""The one place that decides what a refused request gets back: over the socket, the `error`
event and the ack's error; over HTTP, JSON `{error: {code, message}}` with the code's status."""

import logging

from flask import current_app, jsonify, request
from flask_login import current_user
from flask_socketio import emit
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import MethodNotAllowed, NotFound, RequestEntityTooLarge

from . import metrics

log = logging.getLogger("chat.errors")

# The HTTP status of each code; every other code is a bad request (400).
HTTP_STATUS = {
    "unauthorized": 401,
    "forbidden": 403,
    "insufficient_scope": 403,
    "invalid_token": 401,
    "muted": 403,
    "deactivated": 403,
    "archived": 403,
    "not_found": 404,
    "unknown_room": 404,
    "unknown_message": 404,
    "unknown_user": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "name_taken": 409,
    "report_exists": 409,
    "too_large": 413,
    "type_mismatch": 415,
    "invalid_image": 415,
    "rate_limited": 429,
    "busy": 503,
}
API_PREFIX = "/api/"


class ChatError(Exception):
    """A request the server refuses, with a stable code the client can act on."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def status(self):
        """The HTTP status this refusal gets."""
        return HTTP_STATUS.get(self.code, 400)


def current_event_name():
    event = getattr(request, "event", None) or {}
    name = event.get("message")
    if name == "*":  # the catch-all handler: the real name is the first argument
        args = event.get("args") or ()
        name = args[0] if args else None
    return name[:100] if isinstance(name, str) else None


# Called with the connection's sid before a refusal goes out to it: chat/messages/pipeline.py
# holds it until the acks of the messages the connection sent before (queued) have gone out.
_before_refusal = []


def before_refusal(hook):
    if hook not in _before_refusal:
        _before_refusal.append(hook)


def error_payload(exc, event, sid):
    """The `error` event's payload for a refused event (logged in one line, counted)."""
    if isinstance(exc, ChatError):
        code, message = exc.code, exc.message
        log.warning("rejected %s from %s: %s", event, sid, code)
    else:
        code, message = "internal_error", "The server could not handle this request."
        log.error("error handling %s from %s", event, sid, exc_info=exc)
    metrics.ERRORS.inc(code)
    return {"event": event, "code": code, "message": message}


def error_reply(exc):
    """Tell the sender (error event + ack) and log one line; never a traceback on the wire."""
    for hook in _before_refusal:
        hook(request.sid)
    payload = error_payload(exc, current_event_name(), request.sid)
    emit("error", payload, to=request.sid)
    return {"ok": False, "error": payload}


def http_error(code, message, status=None):
    """The JSON body and status of a refused HTTP request."""
    return jsonify(error={"code": code, "message": message}), status or HTTP_STATUS.get(code, 400)


def register_error_handler(socketio):
    socketio.on_error_default(error_reply)


def chat_error_response(exc):
    """An HTTP view (or a check before it) refused the request with a ChatError."""
    return http_error(exc.code, exc.message, exc.status)


def api_routing_error(exc):
    """Under /api/, a URL that matches no route or a method a route does not take answers in JSON
    like every other refusal there (the pages keep Flask's HTML)."""
    if not request.path.startswith(API_PREFIX):
        return exc
    code = "not_found" if isinstance(exc, NotFound) else "method_not_allowed"
    response, status = http_error(code, exc.description or exc.name, exc.code)
    if isinstance(exc, MethodNotAllowed):
        response.headers["Allow"] = ", ".join(exc.valid_methods or ())
    return response, status


def request_too_large(exc):
    """Flask refused a body over MAX_CONTENT_LENGTH before reading it: JSON for the API."""
    if not request.path.startswith(API_PREFIX):
        return exc
    limit = current_app.config["CHAT_MAX_UPLOAD_SIZE"]
    return http_error("too_large", f"The request is too large (files: at most {limit} bytes).")


def csrf_refused(exc):
    """A write to the API without its CSRF token (X-CSRFToken); the page's forms keep Flask's HTML."""
    if not request.path.startswith(API_PREFIX):
        return exc
    return http_error("invalid_csrf", "Missing or invalid CSRF token (send it in the X-CSRFToken header).")


def register_http_errors(app):
    """The app's one HTTP error path, registered once."""
    app.register_error_handler(ChatError, chat_error_response)
    app.register_error_handler(NotFound, api_routing_error)
    app.register_error_handler(MethodNotAllowed, api_routing_error)
    app.register_error_handler(RequestEntityTooLarge, request_too_large)
    app.register_error_handler(CSRFError, csrf_refused)


def http_reader_id():
    """Who reads over HTTP: the signed-in (or guest) user's id, None for a client without a
    session; refused (401) without a session when the server takes no guests."""
    if current_user.is_authenticated:
        return current_user.id
    if not current_app.config["CHAT_ALLOW_GUESTS"]:
        raise ChatError("unauthorized", "Log in first.")
    return None
