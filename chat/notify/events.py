"""Notification levels and preferences: `set_notification_level`, `set_preferences`, and the
settings page's read-receipts switch. Each change reaches the user's every tab and device."""

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user, login_required

from ..errors import ChatError
from ..extensions import db, socketio
from ..models import User
from ..ratelimit import rate_limited
from ..rooms.access import find_room, is_member, user_channel
from ..rooms.manage import require_user
from ..validation import payload_object, room_name
from .prefs import check_level, store_level

bp = Blueprint("notify", __name__)

LEVEL_EVENT, PREFERENCES_EVENT = "notification_level", "preferences"


def set_level(user_id, name, level):
    """Store the user's level for a room they are a member of; tell their sockets."""
    room = find_room(name)
    if room is None or not is_member(room.id, user_id):
        raise ChatError("not_in_room", f"You are not a member of '{name}'.")
    store_level(user_id, room, level)
    db.session.commit()
    payload = {"room": room.name, "level": level}
    socketio.emit(LEVEL_EVENT, payload, to=user_channel(user_id))
    return payload


def receipts_flag(data):
    value = data.get("read_receipts")
    if value is not None and not isinstance(value, bool):
        raise ChatError("invalid_type", "'read_receipts' must be true or false.")
    return value


def set_preferences(user_id, read_receipts):
    """Change the given preferences (None: unchanged); the user's current ones."""
    user = db.session.get(User, user_id)
    if read_receipts is not None and read_receipts != user.read_receipts:
        user.read_receipts = read_receipts
        db.session.commit()
        socketio.emit(PREFERENCES_EVENT, preferences(user), to=user_channel(user_id))
    return preferences(user)


def preferences(user):
    return {"read_receipts": user.read_receipts}


@socketio.on("set_notification_level")
@rate_limited
def set_notification_level_event(data=None, *_):
    data = payload_object(data)
    name, level = room_name(data), check_level(data.get("level"))
    return {"ok": True, **set_level(require_user()["id"], name, level)}


@socketio.on("set_preferences")
@rate_limited
def set_preferences_event(data=None, *_):
    flag = receipts_flag(payload_object(data))
    return {"ok": True, **set_preferences(require_user()["id"], flag)}


@bp.post("/settings/read-receipts")
@login_required
def read_receipts_form():
    set_preferences(current_user.id, request.form.get("read_receipts") == "on")
    flash("saved_receipts")
    return redirect(url_for("settings.settings_page"))
