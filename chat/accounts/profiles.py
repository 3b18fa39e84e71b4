"""Profiles: a display name, a status that may expire, a time zone; update_profile over the socket
and PATCH /api/profile over HTTP, one function behind both; GET /api/users/<id>, a profile card.

Every change is announced to everyone as `user_updated {user}` (socketio.emit: every node's
clients, through the message queue when there is one).
"""

import logging
import unicodedata
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from flask import Blueprint, current_app, jsonify, request
from flask_login import current_user
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from ..errors import ChatError
from ..extensions import db, socketio
from ..messages.authors import forget_author
from ..models import User, utc_now
from ..names import NameRefused, checked_name, name_key
from ..ratelimit import check_user_rate, rate_limited
from ..rooms.access import identity
from ..validation import check_text, payload_object

log = logging.getLogger("chat.profiles")
bp = Blueprint("profiles", __name__)

UPDATED_EVENT = "user_updated"
FIELDS = ("display_name", "status", "status_expires_at", "time_zone")
MAX_TIME_ZONE = 64  # User.time_zone's column
MAX_TIME_TEXT = 64  # an ISO 8601 time is far shorter
MAX_STATUS_AHEAD = timedelta(days=366)
# Bidi embeddings, overrides and isolates: they reorder the text around them (a status that
# reads differently from what it holds). Format characters such as ZWJ stay (emoji sequences).
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
LINE_BREAKS = frozenset("\n\r\t\u2028\u2029\x85")
UNSET = object()


# ---- parsing ----


def optional_string(data, field, limit):
    """UNSET when absent; None when null or blank (clears the field); else the string, checked."""
    if field not in data:
        return UNSET
    value = data[field]
    if value is None:
        return None
    if not isinstance(value, str):
        raise ChatError("invalid_type", f"'{field}' must be a string or null.")
    if len(value) > limit:
        raise ChatError("too_long", f"'{field}' must be at most {limit} characters.")
    check_text(value, field)
    return value if value.strip() else None


def display_name_field(data):
    limit = current_app.config["CHAT_MAX_NAME_LENGTH"]
    raw = optional_string(data, "display_name", limit * 4)  # spaces and width forms shrink
    if raw is UNSET or raw is None:
        return raw
    try:
        return checked_name(raw, limit)
    except NameRefused as exc:
        if exc.reason == "too_long":
            raise ChatError("too_long", f"'display_name' must be at most {limit} characters.") from None
        raise ChatError("invalid_name", exc.describe("'display_name'")) from None


def status_field(data):
    value = optional_string(data, "status", current_app.config["CHAT_MAX_STATUS_LENGTH"])
    if value is UNSET or value is None:
        return value
    for index, char in enumerate(value):
        if char in BIDI_CONTROLS or char in LINE_BREAKS:
            raise ChatError(
                "invalid_text",
                f"'status' must not contain U+{ord(char):04X} (at index {index}): one line, no bidi controls.",
            )
    if all(unicodedata.category(char)[0] in "CZ" for char in value):
        raise ChatError("invalid_text", "'status' must hold a visible character (null or \"\" clears it).")
    return value.strip()


def expiry_field(data, now):
    """An aware time in the future (ISO 8601 with an offset), None (never expires), or UNSET."""
    value = optional_string(data, "status_expires_at", MAX_TIME_TEXT)
    if value is UNSET or value is None:
        return value
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise ChatError("invalid_type", "'status_expires_at' must be an ISO 8601 time with its offset (or null).")
    if not now < when <= now + MAX_STATUS_AHEAD:
        raise ChatError("out_of_range", "'status_expires_at' must be in the future, within a year.")
    return when


@lru_cache(maxsize=1)
def time_zones():
    return frozenset(zoneinfo.available_timezones())


def time_zone_field(data):
    value = optional_string(data, "time_zone", MAX_TIME_ZONE)
    if value is UNSET or value is None:
        return value
    if value not in time_zones():
        raise ChatError("invalid_time_zone", "'time_zone' must be an IANA time zone such as 'Asia/Tokyo'.")
    return value


@dataclass(frozen=True, slots=True)
class ProfileUpdate:
    """What to change; UNSET leaves a field as it is, None clears it."""

    display_name: object = UNSET
    status: object = UNSET
    status_expires_at: object = UNSET
    time_zone: object = UNSET

    @classmethod
    def parse(cls, data, now=None):
        data = payload_object(data)
        unknown = sorted(str(key)[:40] for key in data if key not in FIELDS)
        if unknown:
            raise ChatError("invalid_payload", f"Unknown profile field {unknown[0]!r}; known: {', '.join(FIELDS)}.")
        now = now or utc_now()
        return cls(display_name_field(data), status_field(data), expiry_field(data, now), time_zone_field(data))


# ---- doing ----


def profile_user(user_id):
    """The user whose profile changes: the requester, signed in or a guest."""
    if user_id is None:
        raise ChatError("forbidden", "Sign in (or pick a guest name) first.")
    user = db.session.get(User, user_id)
    if user is None:
        raise ChatError("unauthorized", "Your session has ended; log in again.")
    return user


def display_name_taken(user, key):
    """Whether another user's login or display name has this key (no look-alike of someone else)."""
    clash = select(User.id).where(User.id != user.id, or_(User.name_key == key, User.display_name_key == key))
    return db.session.execute(clash.limit(1)).first() is not None


def apply_display_name(user, name):
    if name is None:
        user.display_name = user.display_name_key = None
        return
    if user.is_guest:
        raise ChatError("forbidden", "Guests keep their nickname; register to choose a display name.")
    key = name_key(name)
    if display_name_taken(user, key):
        raise ChatError("name_taken", "Another user has this name or one that looks the same.")
    user.display_name, user.display_name_key = name, key


def update_profile(user_id, update):
    """Apply a ProfileUpdate to the user, commit, announce it; returns the user's public profile."""
    user = profile_user(user_id)
    try:
        if update.display_name is not UNSET:
            apply_display_name(user, update.display_name)
        if update.status is not UNSET:
            user.status_text = update.status
            if update.status is None or update.status_expires_at is UNSET:
                user.status_expires_at = None  # a new status starts without the old one's expiry
        if update.status_expires_at is not UNSET:
            user.status_expires_at = update.status_expires_at
        if update.time_zone is not UNSET:
            user.time_zone = update.time_zone
        db.session.commit()
    except IntegrityError:
        db.session.rollback()  # the same name, taken by someone else a moment earlier
        raise ChatError("name_taken", "Another user has this name or one that looks the same.") from None
    except Exception:
        db.session.rollback()
        raise
    log.info("profile updated user=%s", user.id)
    return announce(user)


def announce(user):
    """Tell everyone (every node) about the user's new public profile."""
    public = user.public()
    forget_author(user.id)  # payloads carry the new display name and avatar (this node at once)
    socketio.emit(UPDATED_EVENT, {"user": public})
    return public


def own_profile(user):
    """What the user sees of their own profile: the public one, plus the time zone and expiry."""
    expires = user.status_expires_at if user.current_status() is not None else None
    return {
        **user.public(),
        "time_zone": user.time_zone,
        "status_expires_at": expires.isoformat() if expires is not None else None,
    }


def profile_card(user):
    """The public profile card of a user, as other signed-in users see it."""
    return {**user.public(), "time_zone": user.time_zone}


# ---- socket and HTTP ----


@socketio.on("update_profile")
@rate_limited
def update_profile_event(data=None, *_):
    user = update_profile(identity()["id"], ProfileUpdate.parse(data))
    return {"ok": True, "user": user}


def http_user():
    """The signed-in user (or guest) of this request, within their write budget."""
    if not current_user.is_authenticated:
        raise ChatError("unauthorized", "Sign in (or pick a guest name) first.")
    check_user_rate(current_user.id)
    return current_user


@bp.patch("/api/profile")
def update_profile_api():
    user = http_user()
    update = ProfileUpdate.parse(request.get_json(silent=True))
    update_profile(user.id, update)
    return jsonify(ok=True, user=own_profile(db.session.get(User, user.id)))


@bp.get("/api/profile")
def own_profile_api():
    if not current_user.is_authenticated:
        raise ChatError("unauthorized", "Sign in (or pick a guest name) first.")
    return jsonify(ok=True, user=own_profile(current_user))


@bp.get("/api/users/<int:user_id>")
def profile_card_api(user_id):
    if not current_user.is_authenticated:
        raise ChatError("unauthorized", "Sign in (or pick a guest name) first.")
    user = db.session.get(User, user_id) if 0 < user_id < 2**63 else None
    if user is None:
        raise ChatError("not_found", f"No user {user_id}.")
    return jsonify(ok=True, user=profile_card(user))
