"""What moderation decides on the write paths: muted and deactivated users, archived and deleted
rooms, who moderates a room; and the audit trail every admin and moderator action leaves.

Only the core is imported here, so that every capability may call it (no import loop).
"""

from sqlalchemy import bindparam, exists, select

from ..errors import ChatError
from ..extensions import db
from ..models import Room, User, utc_now
from .models import AuditLog, RoomModerator

# One round trip for every check a write needs; asked of the database each time (a mute or an
# archive committed on any node counts at once).
_user_id, _room_id = bindparam("user_id"), bindparam("room_id")
WRITE_STATE = select(
    select(User.muted_until).where(User.id == _user_id).scalar_subquery().label("muted_until"),
    select(User.deactivated_at).where(User.id == _user_id).scalar_subquery().label("deactivated_at"),
    exists().where(Room.id == _room_id).label("room_exists"),
    select(Room.archived_at).where(Room.id == _room_id).scalar_subquery().label("archived_at"),
)


def refuse_write(user_id, room_id=None, connection=None):
    """Refuse a write by a deactivated or muted user (user_id None: no account), or into an
    archived or deleted room (room_id None: no room, the global channel).

    connection: where to ask (the message path passes chat.database.read_connection's, one
    round trip on PostgreSQL instead of the session's three); the session's by default, which
    also sees what the caller has not committed yet."""
    if user_id is None and room_id is None:
        return
    row = (connection or db.session).execute(WRITE_STATE, {"user_id": user_id, "room_id": room_id}).one()
    if row.deactivated_at is not None:
        raise ChatError("deactivated", "This account is deactivated.")
    if row.muted_until is not None and row.muted_until > utc_now():
        until = row.muted_until.isoformat(timespec="seconds")
        raise ChatError("muted", f"You are muted until {until} (UTC); you can still read.")
    if room_id is None:
        return
    if not row.room_exists:
        raise ChatError("unknown_room", "This room no longer exists.")
    if row.archived_at is not None:
        raise ChatError("archived", "This room is archived: it can be read, but not written to.")


def is_admin(user_id):
    if user_id is None:
        return False
    return bool(db.session.execute(select(User.is_admin).where(User.id == user_id)).scalar())


def is_moderator(room_id, user_id):
    """A moderator named for this room (not its creator, not an admin)."""
    if user_id is None or room_id is None:
        return False
    query = select(RoomModerator.user_id).where(RoomModerator.room_id == room_id, RoomModerator.user_id == user_id)
    return db.session.execute(query).first() is not None


def moderation_right(room, user_id):
    """Why `user_id` may moderate `room` (a Room or a RoomRef; None: the global channel):
    "creator", "moderator", "admin", or None when they may not."""
    if user_id is None:
        return None
    if room is not None:
        creator = getattr(room, "creator_id", None)
        if creator is None:
            creator = db.session.execute(select(Room.creator_id).where(Room.id == room.id)).scalar()
        if creator == user_id:
            return "creator"
        if is_moderator(room.id, user_id):
            return "moderator"
    return "admin" if is_admin(user_id) else None


def actor_of(who):
    """(id, name) of whoever acts: a User, an identity dict, or None (the command line)."""
    if who is None:
        return None, "cli"
    if isinstance(who, dict):
        return who.get("id"), who.get("name") or ""
    return who.id, who.name


def audit(who, action, target_type, target_id=None, target_name="", **details):
    """Add the audit row of an action to the session; the action's own commit stores it."""
    actor_id, actor_name = actor_of(who)
    row = AuditLog(
        actor_id=actor_id,
        actor_name=actor_name[:64],
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_name=(target_name or "")[:200],
        details=details,
        created_at=utc_now(),
    )
    db.session.add(row)
    return row
