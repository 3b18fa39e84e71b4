"""A room's own retention: `PATCH /api/rooms/<room>` `{retention_days}` by its creator or an admin."""

from flask import Blueprint, current_app, jsonify, request
from flask_login import current_user

from ..errors import ChatError
from ..extensions import db
from ..ratelimit import check_user_rate
from ..rooms.access import find_room
from ..validation import check_text, payload_object
from .prune import effective_days

bp = Blueprint("retention", __name__)
MAX_RETENTION_DAYS = 36500


def retention_value(data):
    """`retention_days`: a whole number of days from 1 to MAX_RETENTION_DAYS, or null (the global setting)."""
    if "retention_days" not in data:
        raise ChatError("missing_field", "'retention_days' is required (a number of days, or null).")
    days = data["retention_days"]
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int):
        raise ChatError("invalid_type", "'retention_days' must be a whole number of days, or null.")
    if not 1 <= days <= MAX_RETENTION_DAYS:
        raise ChatError("out_of_range", f"'retention_days' must be from 1 to {MAX_RETENTION_DAYS}.")
    return days


def set_room_retention(user, name, days):
    """Set the room's own retention (its creator, or an admin); returns the Room."""
    check_text(name, "room")
    room = find_room(name)
    if room is None or (room.private and not user.is_admin and room.creator_id != user.id):
        raise ChatError("unknown_room", f"No room called '{name}'.")
    if room.kind != "room" or (room.creator_id != user.id and not user.is_admin):
        raise ChatError("forbidden", "Only the room's creator (or an admin) sets its retention.")
    room.retention_days = days
    db.session.commit()
    return room


@bp.patch("/api/rooms/<path:room>", merge_slashes=False)  # "//" is a name, not a redirect
def room_settings_api(room):
    if not current_user.is_authenticated or current_user.is_guest:
        raise ChatError("unauthorized", "Sign in with an account first.")
    check_user_rate(current_user.id)
    days = retention_value(payload_object(request.get_json(silent=True)))
    record = set_room_retention(current_user, room, days)
    global_days = current_app.config["CHAT_RETENTION_DAYS"]
    return jsonify(
        ok=True,
        room=record.name,
        retention_days=record.retention_days,
        effective_days=effective_days(global_days, record.retention_days),
    )
