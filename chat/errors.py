"""The one place that decides what a bad socket payload gets back."""
import logging

from flask import jsonify, request
from flask_socketio import emit

from . import metrics

log = logging.getLogger("chat.errors")


class ChatError(Exception):
    """A request the server refuses, with a stable code the client can act on."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def current_event_name():
    event = getattr(request, "event", None) or {}
    name = event.get("message")
    if name == "*":  # the catch-all handler: the real name is the first argument
        args = event.get("args") or ()
        name = args[0] if args else None
    return name[:100] if isinstance(name, str) else None


def error_reply(exc):
    """Tell the sender (error event + ack) and log one line; never a traceback on the wire."""
    event = current_event_name()
    if isinstance(exc, ChatError):
        code, message = exc.code, exc.message
        log.warning("rejected %s from %s: %s", event, request.sid, code)
    else:
        code, message = "internal_error", "The server could not handle this request."
        log.exception("error handling %s from %s", event, request.sid)
    metrics.ERRORS.inc(code)
    payload = {"event": event, "code": code, "message": message}
    emit("error", payload, to=request.sid)
    return {"ok": False, "error": payload}


def http_error(status, code, message):
    """The JSON body and status of a refused HTTP request."""
    return jsonify(error={"code": code, "message": message}), status


def register_error_handler(socketio):
    socketio.on_error_default(error_reply)


API_PREFIX = "/api/"


def register_http_errors(app):
    """Under /api/, a URL that matches no route or a method a route does not take answers in JSON
    like every other refusal there (the pages keep Flask's HTML)."""

    def api_error(exc):
        if not request.path.startswith(API_PREFIX):
            return exc
        code = "not_found" if exc.code == 404 else "method_not_allowed"
        response, status = http_error(exc.code, code, exc.description or exc.name)
        if exc.code == 405:
            response.headers["Allow"] = ", ".join(exc.valid_methods or ())
        return response, status

    app.register_error_handler(404, api_error)
    app.register_error_handler(405, api_error)
