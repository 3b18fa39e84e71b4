"""Response headers that keep the page safe; the session cookie, read once per connection."""

from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def add_security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


class SocketSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, read once per Socket.IO connection instead of per event.

    Flask opens the session (parses the cookie and checks its signature) whenever a request
    context is pushed, and Flask-SocketIO pushes one for every event, then swaps in its own copy
    of the session taken at connect (kept in the connection's environ as 'saved_session'). From
    then on the cookie's session is thrown away unread: an empty one stands in for it (3 % of
    the server's CPU at S1, BENCHMARKS.md). HTTP requests always get the cookie's session.
    """

    def open_session(self, app, request):
        if "saved_session" in request.environ:
            return self.session_class()
        return super().open_session(app, request)


def trust_proxies(app):
    """Behind CHAT_TRUSTED_PROXIES reverse proxies (nginx: 1), the client's address and scheme are
    the ones the nearest proxy put in X-Forwarded-For/-Proto; otherwise those headers are ignored,
    so a client cannot claim another address (the login throttle counts per address)."""
    count = app.config["CHAT_TRUSTED_PROXIES"]
    if count:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)
