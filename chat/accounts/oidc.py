"""Single sign-on with OpenID Connect, through Authlib's Flask client.

Discovery (CHAT_OIDC_ISSUER + /.well-known/openid-configuration, fetched at the first sign-in and
cached), the authorization code flow with PKCE (S256), state and nonce kept in the signed session
cookie, the ID token's signature (the provider's JWKS, public-key algorithms only) and claims
(iss, aud, exp, iat, nonce) checked. Users are keyed by (issuer, subject), never by a name or an
address; the session starts exactly like a password login's (sessions.sign_in).
"""

import logging
import math
import secrets
import time
from urllib.parse import urlsplit

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from flask import Blueprint, abort, current_app, flash, redirect, request, session, url_for
from joserfc.errors import JoseError
from sqlalchemy.exc import IntegrityError

from .. import names
from ..config import ConfigError
from ..extensions import db
from ..models import User
from ..names import name_key
from ..validation import refused_character
from .models import UserIdentity
from .pages import safe_next
from .sessions import sign_in

log = logging.getLogger("chat.sso")
bp = Blueprint("oidc", __name__)

CLIENT = "oidc"
EXTENSION = "chat_oidc"
CALLBACK_PATH = "/login/sso/callback"
# Public-key signatures only: a provider's metadata may list HS256 (keyed by the client secret,
# which the client holds too) or "none"; an ID token signed so is refused.
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
MAX_SUBJECT = 255  # OpenID Connect Core 2: sub is at most 255 ASCII characters
MAX_NEXT = 1024  # a longer `next` goes to the chat page (it is kept in the session cookie)
MAX_PENDING = 3  # sign-ins started and not finished, kept per browser (each is a few hundred bytes of cookie)
NAME_CLAIMS = ("preferred_username", "name", "nickname", "given_name")
# After a failed discovery, sign-ins fail at once for this many seconds instead of each waiting
# for a provider that is down (and a flood of them sending it a request each).
DISCOVERY_RETRY_AFTER = 5.0


class SignInFailed(Exception):
    """The sign-in cannot go on; `key` names the login page's message (chat/i18n.py)."""

    def __init__(self, key, reason):
        super().__init__(reason)
        self.key = key
        self.reason = reason


def init_app(app):
    """Register the provider when CHAT_OIDC_ISSUER is set; refuse a configuration that cannot work."""
    cfg = app.config
    if not cfg["CHAT_OIDC_ISSUER"]:
        if cfg["CHAT_SSO_ONLY"]:
            raise ConfigError("CHAT_SSO_ONLY needs single sign-on: set CHAT_OIDC_ISSUER.")
        return
    issuer = checked_url("CHAT_OIDC_ISSUER", cfg["CHAT_OIDC_ISSUER"], https=cfg["CHAT_ENV"] == "production")
    checked_url("CHAT_BASE_URL", cfg["CHAT_BASE_URL"])
    if not cfg["CHAT_OIDC_CLIENT_ID"]:
        raise ConfigError("CHAT_OIDC_ISSUER needs CHAT_OIDC_CLIENT_ID (and CHAT_OIDC_CLIENT_SECRET).")
    if "openid" not in cfg["CHAT_OIDC_SCOPE"].split():
        raise ConfigError(f"CHAT_OIDC_SCOPE must include 'openid', got {cfg['CHAT_OIDC_SCOPE']!r}")
    oauth = OAuth(app)
    oauth.register(
        CLIENT,
        client_id=cfg["CHAT_OIDC_CLIENT_ID"],
        client_secret=cfg["CHAT_OIDC_CLIENT_SECRET"],
        server_metadata_url=issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={
            "scope": cfg["CHAT_OIDC_SCOPE"],
            "code_challenge_method": "S256",
            # Every request to the provider (discovery, keys, token) gives up after this long.
            "default_timeout": cfg["CHAT_OIDC_TIMEOUT"],
            "token_endpoint_auth_method": "client_secret_basic" if cfg["CHAT_OIDC_CLIENT_SECRET"] else "none",
        },
    )
    app.extensions[EXTENSION] = oauth


def checked_url(variable, value, https=False):
    """An http(s) URL with a host and no query or fragment, or ConfigError naming the variable."""
    parts = urlsplit(value or "")
    if (
        not value
        or parts.scheme not in ("https",) + (() if https else ("http",))
        or not parts.hostname
        or parts.query
        or parts.fragment
        or any(ord(ch) <= 32 or ord(ch) == 127 for ch in value)
    ):
        scheme = "https" if https else "http(s)"
        raise ConfigError(f"{variable} must be an {scheme} URL with a host and no query, got {value!r}")
    return value


def provider():
    """This app's OpenID Connect client; 404 when single sign-on is off."""
    oauth = current_app.extensions.get(EXTENSION)
    if oauth is None:
        abort(404)
    return oauth.create_client(CLIENT)


def discovered(client):
    """The provider's metadata, fetched once (with a timeout) and checked before it is trusted."""
    metadata = client.server_metadata
    if metadata.get("_chat_checked"):
        return metadata
    if time.monotonic() - getattr(client, "chat_discovery_failed_at", -math.inf) < DISCOVERY_RETRY_AFTER:
        raise SignInFailed("sso_unavailable", "discovery failed moments ago")
    try:
        client.load_server_metadata()
    except (requests.RequestException, ValueError, TypeError) as exc:
        raise discovery_failed(client, f"discovery failed: {exc!r}") from None
    issuer = current_app.config["CHAT_OIDC_ISSUER"]
    endpoints = [metadata.get(key) for key in ("authorization_endpoint", "token_endpoint", "jwks_uri")]
    if metadata.get("issuer") != issuer or not all(isinstance(url, str) and is_http_url(url) for url in endpoints):
        raise discovery_failed(client, f"discovery document unusable (issuer {metadata.get('issuer')!r})")
    listed = metadata.get("id_token_signing_alg_values_supported")
    allowed = [alg for alg in listed if alg in SIGNING_ALGORITHMS] if isinstance(listed, list) else []
    metadata["id_token_signing_alg_values_supported"] = allowed or ["RS256"]
    metadata["_chat_checked"] = True
    return metadata


def discovery_failed(client, reason):
    """Forget what was fetched (tried again after DISCOVERY_RETRY_AFTER); the refusal to raise."""
    client.server_metadata.clear()
    client.chat_discovery_failed_at = time.monotonic()
    return SignInFailed("sso_unavailable", reason)


def is_http_url(url):
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def callback_url():
    """Where the provider sends the browser back: from CHAT_BASE_URL, never the Host header."""
    return current_app.config["CHAT_BASE_URL"].rstrip("/") + CALLBACK_PATH


@bp.get("/login/sso")
def start():
    """Send the browser to the provider, with state, nonce and a PKCE challenge."""
    client = provider()
    target = wanted_next(request.args.get("next"))
    try:
        discovered(client)
        found = client.create_authorization_url(callback_url())
    except SignInFailed as exc:
        return refused(exc, target)
    except (requests.RequestException, AuthlibBaseError, RuntimeError) as exc:
        return refused(SignInFailed("sso_unavailable", repr(exc)), target)
    forget_old_sign_ins()
    url = found.pop("url")
    client.save_authorize_data(redirect_uri=callback_url(), next=target, **found)
    return redirect(url)


@bp.get(CALLBACK_PATH)
def callback():
    """The provider's answer: check it, find or create the user, start the session."""
    client = provider()
    state = request.args.get("state")
    pending = client.framework.get_state_data(session, state) if state else None
    target = wanted_next(pending.get("next") if isinstance(pending, dict) else None)
    try:
        claims = verified_claims(client, pending, state)
        user = user_for(claims)
    except SignInFailed as exc:
        return refused(exc, target)
    sign_in(user)
    log.info("sso login user=%s", user.id)
    return redirect(target)


def wanted_next(target):
    """Where to go after signing in: `next` by the login's rule (pages.safe_next), and not too long."""
    if isinstance(target, str) and len(target) > MAX_NEXT:
        target = None
    return safe_next(target)


def refused(exc, target):
    """Back to the login page, which says why (in the page's language); the log says more."""
    log.warning("single sign-on refused: %s", exc.reason)
    flash(exc.key)
    index = safe_next(None)
    return redirect(url_for("users.login_page", next=None if target == index else target))


def forget_old_sign_ins():
    """Keep the session cookie small: only the newest few sign-ins started in this browser stay."""
    prefix = f"_state_{CLIENT}_"
    started = sorted((value.get("exp", 0), key) for key, value in session.items() if key.startswith(prefix))
    for _, key in started[: max(0, len(started) - (MAX_PENDING - 1))]:
        session.pop(key, None)


def verified_claims(client, pending, state):
    """The ID token's claims, its signature and claims checked (Authlib, joserfc)."""
    error = request.args.get("error")
    if error:
        if pending is not None:
            client.framework.clear_state_data(session, state)  # one answer per sign-in
        key = "sso_denied" if error == "access_denied" else "sso_failed"
        raise SignInFailed(key, f"the provider answered error={error[:100]!r}")
    if pending is None:
        raise SignInFailed("sso_expired", "no sign-in was started with this state in this browser")
    discovered(client)
    cfg = current_app.config
    rules = {
        "iss": {"essential": True, "value": cfg["CHAT_OIDC_ISSUER"]},
        "aud": {"essential": True, "value": cfg["CHAT_OIDC_CLIENT_ID"]},
        "sub": {"essential": True},
        "exp": {"essential": True},
        "iat": {"essential": True},
    }
    try:
        token = client.authorize_access_token(claims_options=rules, leeway=cfg["CHAT_OIDC_CLOCK_SKEW"])
    except (AuthlibBaseError, JoseError) as exc:
        raise SignInFailed("sso_failed", f"token refused: {exc!r}") from None
    except requests.RequestException as exc:
        raise SignInFailed("sso_unavailable", f"token endpoint unreachable: {exc!r}") from None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # an answer of the wrong shape
        raise SignInFailed("sso_failed", f"token answer unusable: {exc!r}") from None
    claims = token.get("userinfo") if isinstance(token, dict) else None
    if not claims:
        raise SignInFailed("sso_failed", "the token answer holds no ID token")
    return claims


def user_for(claims):
    """The user of this (issuer, subject): found, or created when CHAT_OIDC_CREATE_USERS allows."""
    issuer, subject = current_app.config["CHAT_OIDC_ISSUER"], claims.get("sub")
    if not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT or refused_character(subject):
        raise SignInFailed("sso_failed", "the ID token's subject is unusable")
    user = identity_user(issuer, subject)
    if user is None:
        if not current_app.config["CHAT_OIDC_CREATE_USERS"]:
            raise SignInFailed("sso_no_account", "no account for this identity, and creation is off")
        user = create_sso_user(issuer, subject, claims)
    if not user.is_active:
        raise SignInFailed("sso_deactivated", f"user {user.id} is deactivated")
    return user


def identity_user(issuer, subject):
    query = (
        db.select(User)
        .join(UserIdentity, UserIdentity.user_id == User.id)
        .where(UserIdentity.issuer == issuer, UserIdentity.subject == subject)
    )
    return db.session.execute(query).scalar_one_or_none()


def create_sso_user(issuer, subject, claims):
    """A new account for this identity, named after its claims, with a suffix when the name is
    taken: an existing account of that name is never linked (anyone can pick any name at a
    provider). Two first sign-ins of one identity at once make one account."""
    limit = current_app.config["CHAT_MAX_NAME_LENGTH"]
    stem = wanted_name(claims, limit)
    for suffix in name_suffixes():
        name = fitted(stem, suffix, limit)
        if name is None or db.session.execute(db.select(User.id).filter_by(name_key=name_key(name))).first():
            continue
        user = User(name=name, name_key=name_key(name), password_hash=None, is_guest=False)
        try:
            db.session.add(user)
            db.session.flush()  # the name is ours (or IntegrityError: taken meanwhile)
            db.session.add(UserIdentity(user_id=user.id, issuer=issuer, subject=subject))
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            if (existing := identity_user(issuer, subject)) is not None:
                return existing
            continue
        log.info("sso account created user=%s", user.id)
        return user
    raise SignInFailed("sso_failed", f"no free name for {stem!r}")


def name_suffixes():
    yield ""
    yield from (f"-{n}" for n in range(2, 100))
    yield from (f"-{secrets.token_hex(4)}" for _ in range(5))


def wanted_name(claims, limit):
    """The first of the name claims that the rule for names (chat/names.py) accepts, else "user"."""
    for claim in NAME_CLAIMS:
        raw = claims.get(claim)
        if not isinstance(raw, str):
            continue
        try:
            name = names.normalise(raw[: limit * 4])  # a bound on the work for a huge claim
        except names.NameRefused:
            continue
        if (fitting := fitted(name, "", limit)) is not None:
            return fitting
    return "user"


def fitted(stem, suffix, limit):
    """stem + suffix as a name the rule accepts, the stem cut as needed so that it fits `limit`."""
    for end in range(len(stem), 0, -1):
        try:
            return names.checked_name(stem[:end].rstrip() + suffix, limit)
        except names.NameRefused:
            continue
    return None


def link_identity(user, issuer, subject):
    """Let (issuer, subject) sign in as `user` (`flask chat sso-link`); ValueError when it is another user's."""
    existing = identity_user(issuer, subject)
    if existing is not None and existing.id != user.id:
        raise ValueError(f"that identity already signs in as {existing.name!r}")
    if existing is None:
        db.session.add(UserIdentity(user_id=user.id, issuer=issuer, subject=subject))
        db.session.commit()


def unlink_identity(user, issuer, subject):
    """Stop (issuer, subject) signing in as `user`; whether there was such a link."""
    found = db.session.execute(
        db.delete(UserIdentity).where(
            UserIdentity.user_id == user.id, UserIdentity.issuer == issuer, UserIdentity.subject == subject
        )
    ).rowcount
    db.session.commit()
    return bool(found)
