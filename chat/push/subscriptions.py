"""Browsers' push subscriptions: `GET /api/push/key`, `POST/DELETE /api/push/subscriptions`.

The server will POST to whatever endpoint a subscription names, so each one is checked as an
attacker's URL: ASCII without spaces or controls, https (http only outside production), no
user:password@, a host that CHAT_PUSH_HOSTS allows (in production by default: the browsers'
push services only, never an address inside the network), a bounded length; the keys must be a
real P-256 point and a 16-byte secret. At most CHAT_PUSH_MAX_SUBSCRIPTIONS per user.
"""

import base64
import binascii
import re
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from flask import Blueprint, current_app, jsonify, request
from flask_login import current_user
from sqlalchemy import delete, func, select

from ..errors import ChatError
from ..extensions import db
from ..ratelimit import check_user_rate
from ..validation import payload_object
from .keys import public_key_of, vapid
from .models import PushSubscription

bp = Blueprint("push", __name__)

# The push services of the browsers people use (Chrome/Edge, Firefox, Safari, Windows).
KNOWN_PUSH_HOSTS = (
    "fcm.googleapis.com",
    "android.googleapis.com",
    "updates.push.services.mozilla.com",
    "push.services.mozilla.com",
    "web.push.apple.com",
    "notify.windows.com",
)
PRINTABLE_ASCII = re.compile(r"[\x21-\x7e]+")
BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")


def refuse(message):
    raise ChatError("invalid_subscription", message)


def allowed_hosts(config):
    hosts = config["CHAT_PUSH_HOSTS"]
    if hosts is None:
        return KNOWN_PUSH_HOSTS if config["CHAT_ENV"] == "production" else None
    return None if "*" in hosts else tuple(h.lower().lstrip(".") for h in hosts)


def checked_endpoint(value, config):
    if not isinstance(value, str):
        refuse("'endpoint' must be a string (the subscription's URL).")
    limit = config["CHAT_PUSH_MAX_ENDPOINT"]
    if len(value) > limit:
        refuse(f"'endpoint' must be at most {limit} characters.")
    if not PRINTABLE_ASCII.fullmatch(value):
        refuse("'endpoint' must be a URL of printable ASCII characters, without spaces.")
    parts = urlsplit(value)
    schemes = ("https",) if config["CHAT_ENV"] == "production" else ("https", "http")
    if parts.scheme not in schemes:
        refuse(f"'endpoint' must be an {' or '.join(schemes)} URL.")
    try:
        host, _port = parts.hostname, parts.port
    except ValueError:
        refuse("'endpoint' has an invalid port.")
    if not host or "@" in parts.netloc:
        refuse("'endpoint' must name a host, without a user or password.")
    hosts = allowed_hosts(config)
    if hosts is not None and not any(host == h or host.endswith("." + h) for h in hosts):
        refuse(f"'endpoint' is not at a push service this server sends to ({host}).")
    return value


def decoded_key(keys, name, size):
    value = keys.get(name)
    if not isinstance(value, str) or len(value) > 200 or not BASE64URL.fullmatch(value):
        refuse(f"'keys.{name}' must be a base64url string.")
    try:
        raw = base64.urlsafe_b64decode(value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        refuse(f"'keys.{name}' must be a base64url string.")
    if len(raw) != size:
        refuse(f"'keys.{name}' must hold {size} bytes.")
    return value.rstrip("="), raw


def checked_subscription(data, config):
    """(endpoint, p256dh, auth) of a PushSubscription's JSON, each checked; invalid_subscription else."""
    data = payload_object(data)
    endpoint = checked_endpoint(data.get("endpoint"), config)
    keys = data.get("keys")
    if not isinstance(keys, dict):
        refuse("'keys' must be an object with 'p256dh' and 'auth'.")
    p256dh, point = decoded_key(keys, "p256dh", 65)
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        refuse("'keys.p256dh' is not a P-256 public key.")
    auth, _ = decoded_key(keys, "auth", 16)
    return endpoint, p256dh, auth


def push_user():
    if not current_user.is_authenticated:
        raise ChatError("unauthorized", "Sign in (or pick a guest name) first.")
    check_user_rate(current_user.id)
    return current_user


def subscribe(user_id, endpoint, p256dh, auth):
    """Save the subscription for the user (a browser's endpoint moves to whoever subscribes it last)."""
    found = db.session.execute(select(PushSubscription).filter_by(endpoint=endpoint)).scalar_one_or_none()
    if found is None or found.user_id != user_id:
        count = select(func.count()).where(PushSubscription.user_id == user_id)
        cap = current_app.config["CHAT_PUSH_MAX_SUBSCRIPTIONS"]
        if db.session.execute(count).scalar() >= cap:
            raise ChatError("too_many_subscriptions", f"At most {cap} browsers per user get push notifications.")
    if found is None:
        db.session.add(PushSubscription(user_id=user_id, endpoint=endpoint, p256dh=p256dh, auth=auth))
    else:
        found.user_id, found.p256dh, found.auth = user_id, p256dh, auth
    db.session.commit()


@bp.get("/api/push/key")
def push_key():
    push_user()
    return jsonify(ok=True, publicKey=public_key_of(vapid()))


@bp.post("/api/push/subscriptions")
def add_subscription():
    user = push_user()
    endpoint, p256dh, auth = checked_subscription(request.get_json(silent=True), current_app.config)
    subscribe(user.id, endpoint, p256dh, auth)
    return jsonify(ok=True), 201


@bp.delete("/api/push/subscriptions")
def remove_subscription():
    user = push_user()
    data = payload_object(request.get_json(silent=True))
    endpoint = data.get("endpoint")
    if not isinstance(endpoint, str) or len(endpoint) > current_app.config["CHAT_PUSH_MAX_ENDPOINT"]:
        refuse("'endpoint' must be the subscription's URL.")
    query = delete(PushSubscription).where(PushSubscription.user_id == user.id, PushSubscription.endpoint == endpoint)
    removed = db.session.execute(query).rowcount
    db.session.commit()
    return jsonify(ok=True, removed=bool(removed))
