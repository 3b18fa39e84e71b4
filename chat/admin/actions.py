"""Admin actions: one `do_*` function per action, called by the /admin page, the HTTP API and the
command line. Each checks who acts, does it in one transaction with its audit row, then tells
whom it concerns (sockets on every node through the message queue)."""

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, select, update

from ..accounts.sessions import end_sessions
from ..cluster.queue import leave_room_everywhere, queue_manager
from ..errors import ChatError
from ..extensions import db, socketio
from ..messages.edits import delete_message
from ..models import Message, Room, RoomMember, Upload, User, utc_now
from ..names import name_key
from ..rooms.access import add_member, channel, room_refs, user_channel
from ..uploads.files import file_path, remove_quietly, thumb_path
from .models import Report, RoomModerator
from .policy import audit

log = logging.getLogger("chat.admin")

# The control message that makes every node forget a deleted room's cached record.
FORGET_ROOM_OP = "forget_room"


def require_admin(actor):
    """actor: the User acting (None: the command line, an operator)."""
    if actor is not None and not (actor.is_admin and actor.is_active):
        raise ChatError("forbidden", "Only an admin can do this.")


def admins_left(actor, excluding):
    """Active admins besides `excluding`; the command line (actor None) is never locked out, so
    for it the count does not matter."""
    if actor is None:
        return 1
    query = select(func.count()).select_from(User).where(User.is_admin, User.deactivated_at.is_(None))
    return db.session.execute(query.where(User.id != excluding.id)).scalar_one()


# ---- users ----


def do_set_admin(actor, user, admin):
    """Make `user` an admin or take the right away; never the last active admin's."""
    require_admin(actor)
    if not admin and user.is_admin and admins_left(actor, user) == 0:
        raise ChatError("last_admin", "This is the last admin: make someone else an admin first.")
    if user.is_admin == admin:
        return user
    user.is_admin = admin
    audit(actor, "grant_admin" if admin else "revoke_admin", "user", user.id, user.name)
    db.session.commit()
    log.info("admin=%s user=%s by %s", admin, user.id, actor.id if actor else "cli")
    return user


def do_deactivate(actor, user):
    """Deactivate `user`: no login, token or socket any more; their sessions and sockets end on
    every node (users.end_sessions)."""
    require_admin(actor)
    if actor is not None and user.id == actor.id:
        raise ChatError("invalid_user", "You cannot deactivate yourself.")
    if user.is_admin and admins_left(actor, user) == 0:
        raise ChatError("last_admin", "This is the last admin: make someone else an admin first.")
    if user.deactivated_at is None:
        user.deactivated_at = utc_now()
        audit(actor, "deactivate", "user", user.id, user.name)
        db.session.commit()
    end_sessions(user)  # also again: a socket that slipped through closes now
    log.info("deactivate user=%s", user.id)
    return user


def do_reactivate(actor, user):
    require_admin(actor)
    if user.deactivated_at is not None:
        user.deactivated_at = None
        audit(actor, "reactivate", "user", user.id, user.name)
        db.session.commit()
    return user


def mute_minutes(value):
    """A mute's length in whole minutes, 1..CHAT_MAX_MUTE_MINUTES."""
    limit = current_app.config["CHAT_MAX_MUTE_MINUTES"]
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) <= 9:
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ChatError("invalid_type", "'minutes' must be a whole number.")
    if not 1 <= value <= limit:
        raise ChatError("out_of_range", f"'minutes' must be between 1 and {limit}.")
    return value


def do_mute(actor, user, minutes):
    """Refuse every write of `user` (messages, edits, reactions, uploads, rooms, typing) with
    `muted` for `minutes`; they can still read."""
    require_admin(actor)
    minutes = mute_minutes(minutes)
    user.muted_until = utc_now() + timedelta(minutes=minutes)
    audit(actor, "mute", "user", user.id, user.name, minutes=minutes, until=user.muted_until.isoformat())
    db.session.commit()
    return user


def do_unmute(actor, user):
    require_admin(actor)
    if user.muted_until is not None:
        user.muted_until = None
        audit(actor, "unmute", "user", user.id, user.name)
        db.session.commit()
    return user


# ---- rooms ----


def require_room(room):
    if room.kind != "room":
        raise ChatError("unknown_room", "Direct conversations are not moderated here.")


def do_archive(actor, room, archived=True):
    """Archive a room (readable, nothing written to it) or unarchive it."""
    require_admin(actor)
    require_room(room)
    if (room.archived_at is not None) == archived:
        return room
    room.archived_at = utc_now() if archived else None
    audit(actor, "archive" if archived else "unarchive", "room", room.id, room.name)
    db.session.commit()
    socketio.emit("room_updated", {"room": room.name, "archived": archived}, to=channel(room.name))
    return room


def do_delete_room(actor, room):
    """Delete a room with its messages, memberships and files; members hear `rooms_changed`
    {reason: "deleted"}, and every node forgets the room."""
    require_admin(actor)
    require_room(room)
    name, room_id = room.name, room.id
    members = db.session.execute(select(RoomMember.user_id).where(RoomMember.room_id == room_id)).scalars().all()
    tokens = db.session.execute(select(Upload.token).where(Upload.room_id == room_id)).scalars().all()
    messages = db.session.execute(select(func.count()).select_from(Message).where(Message.room_id == room_id))
    messages = messages.scalar_one()
    audit(actor, "delete_room", "room", room_id, name, members=len(members), messages=messages, files=len(tokens))
    db.session.execute(delete(Room).where(Room.id == room_id))  # messages, members, uploads: cascade
    db.session.commit()
    for token in tokens:
        remove_quietly(file_path(token), thumb_path(token))
    notice = {"room": name, "reason": "deleted"}
    socketio.emit("rooms_changed", notice, to=[channel(name), *(user_channel(u) for u in members)])
    for user_id in members:
        leave_room_everywhere(user_channel(user_id), channel(name), forget=name)
    forget_room_everywhere(name_key(name))
    log.info("delete room=%s (%d) members=%d", room_id, messages, len(members))
    return notice


def forget_room_everywhere(key):
    """Drop the room's cached record on this node and every other (chat/rooms/access.py)."""
    room_refs().pop(key, None)
    manager = queue_manager()
    if manager is not None:
        manager.publish_control(FORGET_ROOM_OP, key=key)


def do_transfer(actor, room, user):
    """Make `user` the room's creator (and a member)."""
    require_admin(actor)
    require_room(room)
    if user.deactivated_at is not None:
        raise ChatError("invalid_user", "A deactivated user cannot own a room.")
    previous = room.creator_id
    room.creator_id = user.id
    audit(actor, "transfer_room", "room", room.id, room.name, user=user.name, user_id=user.id, previous=previous)
    db.session.commit()
    add_member(room.id, user.id)
    return room


def do_set_moderator(actor, room, user, moderator=True):
    """Name `user` a moderator of the room (a member who may remove members, set the topic and
    delete messages there), or stop that."""
    require_admin(actor)
    require_room(room)
    present = db.session.get(RoomModerator, (room.id, user.id)) is not None
    if present == moderator:
        return room
    if moderator:
        db.session.add(RoomModerator(room_id=room.id, user_id=user.id, created_at=utc_now()))
    else:
        db.session.execute(
            delete(RoomModerator).where(RoomModerator.room_id == room.id, RoomModerator.user_id == user.id)
        )
    action = "add_moderator" if moderator else "remove_moderator"
    audit(actor, action, "room", room.id, room.name, user=user.name, user_id=user.id)
    db.session.commit()
    if moderator:
        add_member(room.id, user.id)
    return room


def moderators_of(room_ids):
    """room id -> names of its moderators."""
    if not room_ids:
        return {}
    rows = db.session.execute(
        select(RoomModerator.room_id, User.name)
        .join(User, User.id == RoomModerator.user_id)
        .where(RoomModerator.room_id.in_(list(room_ids)))
        .order_by(User.name)
    )
    found = {}
    for room_id, name in rows:
        found.setdefault(room_id, []).append(name)
    return found


# ---- reports ----


def do_resolve_report(actor, report, delete=False):
    """Close a report; with `delete`, delete the message too (which closes every open report on it)."""
    require_admin(actor)
    if delete and actor is None:
        raise ChatError("forbidden", "Deleting a message needs an admin's account.")
    if delete:
        delete_message(actor.id if actor is not None else None, report.message_id)
    now = utc_now()
    closing = Report.id == report.id if not delete else Report.message_id == report.message_id
    db.session.execute(
        update(Report)
        .where(closing, Report.resolved_at.is_(None))
        .values(resolved_at=now, resolved_by=actor.id if actor else None, open_key=None)
    )
    audit(actor, "resolve_report", "report", report.id, "", message_id=report.message_id, deleted=delete)
    db.session.commit()
    return report


def init_app(app):
    """Every node forgets a room another node deleted (the control channel's `forget_room`)."""
    manager = socketio.server.manager if socketio.server is not None else None
    handlers = getattr(manager, "control_handlers", None)
    if handlers is not None:
        cache = app.extensions.setdefault("chat_room_refs", {})
        handlers[FORGET_ROOM_OP] = lambda message: cache.pop(message.get("key"), None)
