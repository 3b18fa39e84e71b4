"""Who a request or socket is by a personal API token (`Authorization: Bearer chat_…`, `auth: {token}`)."""

import hashlib
import re
import secrets
from datetime import timedelta

from flask import current_app, g, request
from flask_socketio import ConnectionRefusedError
from sqlalchemy import select

from ..cluster.queue import disconnect_room
from ..errors import ChatError
from ..extensions import csrf, db, login_manager
from ..models import User, utc_now
from .models import ApiToken

TOKEN_PREFIX = "chat_"
HOOK_PREFIX = "chook_"
# What a token can look like; anything else is refused before any database lookup.
TOKEN_SHAPE = re.compile(r"chat_[A-Za-z0-9_-]{40,50}")
HOOK_SHAPE = re.compile(r"chook_[A-Za-z0-9_-]{40,50}")
SCOPES = ("read", "write")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Bearer tokens count on the API and file downloads only: never on the pages (the settings pages
# that make tokens, the login forms) and never on /metrics (its own bearer token).
BEARER_PATHS = ("/api/", "/uploads/")
LAST_USED_EVERY = timedelta(minutes=1)


def new_secret(prefix):
    """A fresh secret with a recognisable prefix (43 random URL-safe characters after it)."""
    return prefix + secrets.token_urlsafe(32)


def digest(raw):
    """What is stored of a token: its sha256 (the token has 256 random bits: no salt or slow hash needed)."""
    return hashlib.sha256(raw.encode()).hexdigest()


def user_is_active(user):
    """False for a deactivated user (the administration's `is_active`; Flask-Login's default is True)."""
    return bool(getattr(user, "is_active", True))


def token_owner(raw):
    """(ApiToken, User) for a usable token string; None when unknown, revoked, expired, or its user
    is a guest or deactivated."""
    if not isinstance(raw, str) or not TOKEN_SHAPE.fullmatch(raw):
        return None
    query = select(ApiToken).filter_by(token_hash=digest(raw)).execution_options(populate_existing=True)
    token = db.session.execute(query).scalar_one_or_none()
    if token is None or not token.usable(utc_now()):
        return None
    user = db.session.get(User, token.user_id)
    if user is None or user.is_guest or not user_is_active(user):
        return None
    return token, user


def note_use(token):
    now = utc_now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_EVERY:
        token.last_used_at = now
        db.session.commit()


def bearer_token():
    """The token of an `Authorization: Bearer …` header, or None without one."""
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return raw.strip()


def authenticate_request():
    """before_request: a Bearer token on the API is the request's identity (instead of the cookie);
    an unusable one is 401 invalid_token, a read token's write 403 insufficient_scope."""
    g.api_token = None
    if not request.path.startswith(BEARER_PATHS):
        return
    raw = bearer_token()
    if raw is None:
        return
    found = token_owner(raw)
    if found is None:
        raise ChatError("invalid_token", "This API token is unknown, revoked or expired.")
    token, user = found
    if token.scope != "write" and request.method not in SAFE_METHODS:
        raise ChatError("insufficient_scope", "This token may only read (its scope is 'read').")
    note_use(token)
    g.api_token = token
    login_manager._update_request_context_with_user(user)  # Flask-Login's current_user for this request


def csrf_unless_token():
    """Flask-WTF's CSRF check for every write, except requests authenticated by a token: a browser
    never adds an Authorization header across sites on its own, so they cannot be forged."""
    if not current_app.config["WTF_CSRF_ENABLED"] or g.get("api_token") is not None:
        return
    csrf.protect(apply_exemptions=True)


def socket_token(auth):
    """(ApiToken, User) of a connect's `auth: {token}`; None without one; refused when unusable."""
    if not isinstance(auth, dict) or "token" not in auth:
        return None
    found = token_owner(auth.get("token"))
    if found is None:
        raise ConnectionRefusedError("invalid_token")
    return found


def token_channel(token_id):
    """The Socket.IO room of every socket opened with this token (closed on revocation)."""
    return f"token:{token_id}"


def still_usable(token_id):
    """Read afresh: whether the token is still usable (a revocation may have committed meanwhile)."""
    query = select(ApiToken).where(ApiToken.id == token_id).execution_options(populate_existing=True)
    token = db.session.execute(query).scalar_one_or_none()
    if token is None or not token.usable(utc_now()):
        return False
    user = db.session.get(User, token.user_id)
    return user is not None and user_is_active(user)


def create_token(user, name, scope, expires_at=None):
    """A new token for the user; returns (ApiToken, the token string, shown once)."""
    if user.is_guest:
        raise ChatError("forbidden", "Guests cannot have API tokens: register first.")
    if scope not in SCOPES:
        raise ChatError("invalid_scope", "The scope is 'read' or 'write'.")
    raw = new_secret(TOKEN_PREFIX)
    token = ApiToken(user_id=user.id, name=name, token_hash=digest(raw), scope=scope, expires_at=expires_at)
    db.session.add(token)
    db.session.commit()
    return token, raw


def revoke_token(user_id, token_id):
    """Revoke one of the user's tokens; its sockets close on every node."""
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user_id:
        raise ChatError("not_found", "No such token.")
    if token.revoked_at is None:
        token.revoked_at = utc_now()
        db.session.commit()
    disconnect_room(token_channel(token_id))


def user_tokens(user_id):
    query = select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc())
    return db.session.execute(query).scalars().all()


def init_app(app):
    """Token identity, then CSRF for everything else (Flask-WTF's own default check is turned off)."""
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.before_request(authenticate_request)
    app.before_request(csrf_unless_token)
