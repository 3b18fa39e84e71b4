"""Changing stored messages: edit, delete (a tombstone keeps the id), reactions; socket and HTTP.

Each write checks (who may touch which message), does (one transaction), then sends
`message_updated` with the message's full current payload to the message's own recipients,
so clients replace it in place by id.
"""

import logging
from dataclasses import dataclass

import emoji as emoji_lib
from flask import Blueprint, current_app, jsonify, request
from flask_login import current_user
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from ..admin.policy import audit, moderation_right, refuse_write
from ..cluster.queue import emit_stored
from ..errors import ChatError
from ..extensions import db, socketio
from ..models import Mention, Message, Reaction, Room, Upload, User, utc_now
from ..pins.store import announce as announce_pins
from ..pins.store import drop_pin
from ..ratelimit import check_user_rate, rate_limited
from ..rooms.access import can_read, identity, ref_for
from ..threads.replies import reply_deleted
from ..uploads import files as uploads
from ..validation import check_text, message_text, optional_id, payload_object
from .history import largest_id
from .payloads import stored_payloads
from .store import mentioned_users, write_lock

log = logging.getLogger("chat.edits")
bp = Blueprint("edits", __name__)

UPDATED_EVENT = "message_updated"
EMOJI_MAX_LENGTH = 64  # Reaction.emoji's column; the longest ZWJ sequences are far shorter


# ---- parsing ----


def message_id(data):
    value = optional_id(data, "id")
    if value is None:
        raise ChatError("missing_field", "'id' is required.")
    return value


def emoji_field(data):
    if "emoji" not in data:
        raise ChatError("missing_field", "'emoji' is required.")
    value = data["emoji"]
    if not isinstance(value, str):
        raise ChatError("invalid_type", "'emoji' must be a string.")
    check_text(value, "emoji")
    if not value or len(value) > EMOJI_MAX_LENGTH or not emoji_lib.is_emoji(value):
        raise ChatError("invalid_emoji", "'emoji' must be exactly one emoji.")
    return value


@dataclass(frozen=True, slots=True)
class EditRequest:
    id: int
    message: str

    @classmethod
    def parse(cls, data, message_id_value=None):
        data = payload_object(data)
        return cls(message_id(data) if message_id_value is None else message_id_value, message_text(data))


@dataclass(frozen=True, slots=True)
class ReactRequest:
    id: int
    emoji: str

    @classmethod
    def parse(cls, data, message_id_value=None):
        data = payload_object(data)
        return cls(message_id(data) if message_id_value is None else message_id_value, emoji_field(data))


# ---- checks ----


def require_identified(user_id):
    if user_id is None:
        raise ChatError("forbidden", "Sign in (or pick a guest name) first.")


def not_found(message_id_value):
    # The same answer for "no such message" and "a message you cannot read": never reveal which.
    return ChatError("not_found", f"No message {message_id_value} that you can read.")


def readable_message(message_id_value, user_id):
    """(message, room) for a message the user can read, locked for the write (room None: the
    global channel, readable by every connection); not_found otherwise."""
    if not 0 < message_id_value <= largest_id():  # an HTTP path can hold any number of digits
        raise not_found(message_id_value)
    # FOR UPDATE (PostgreSQL; SQLite writes one at a time anyway): writes to one message, from
    # any node, take turns, so a toggle or an edit never works from a stale state.
    message = db.session.execute(
        select(Message)
        .where(Message.id == message_id_value)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if message is None:
        raise not_found(message_id_value)
    if message.room_id is None:
        return message, None
    room = db.session.get(Room, message.room_id)
    if room is None or not can_read(room, user_id):
        raise not_found(message_id_value)
    return message, room


def is_author(message, user_id):
    return message.user_id is not None and message.user_id == user_id


def user_name(user_id):
    user = db.session.get(User, user_id)
    return user.name if user is not None else ""


# ---- doing ----


def current_payload(message, room):
    """The message's full payload, as history gives it (mentions included)."""
    return stored_payloads([message], room.name if room is not None else None)[0]


def commit_and_announce(message, room):
    """Commit the change, then send `message_updated` to the message's recipients.

    Through `emit_stored`, like the message itself: with a message queue it goes out through
    Redis to every node (the sending node included, so every node hands it to its clients in
    the queue's order, after the message it updates), and when Redis is down this node's
    clients still get it at once. It counts under chat_messages_in_total{event=
    "message_updated"}: one accepted write, like a stored message; recipients are counted by
    the client manager as for any event. (`socketio.emit` would also reach every node, but
    would drop the update on this node too while Redis is down.)
    The process lock keeps this node's updates of one message in commit order.
    """
    with write_lock:
        db.session.commit()
        payload = current_payload(message, room)
        emit_stored(UPDATED_EVENT, payload, list(ref_for(room).targets) if room is not None else None)
    return payload


def replace_mentions(message, room):
    """Mentions follow the text: recounted on edit, gone on delete (unread mention counts)."""
    db.session.execute(delete(Mention).where(Mention.message_id == message.id))
    if room is None or message.deleted_at is not None or "@" not in message.text:
        return
    users = mentioned_users(message.text, room.id)
    if users:
        db.session.execute(
            insert(Mention), [{"message_id": message.id, "user_id": u, "room_id": room.id} for u in users]
        )


def edit_message(user_id, message_id_value, text):
    """Replace the text of one's own message; returns its new payload."""
    require_identified(user_id)
    try:
        message, room = readable_message(message_id_value, user_id)
        if not is_author(message, user_id):
            raise ChatError("forbidden", "Only the author can edit this message.")
        if message.deleted_at is not None:
            raise ChatError("deleted", "This message was deleted; it cannot be edited.")
        refuse_write(user_id, message.room_id)
        message.text = text
        message.edited_at = utc_now()
        replace_mentions(message, room)
    except Exception:
        db.session.rollback()
        raise
    return commit_and_announce(message, room)


def delete_message(user_id, message_id_value):
    """Tombstone a message (its author, or an admin): text emptied, id kept, reactions,
    mentions and file gone. Deleting a tombstone again changes nothing."""
    require_identified(user_id)
    try:
        message, room = readable_message(message_id_value, user_id)
        right = None if is_author(message, user_id) else moderation_right(room, user_id)
        if not is_author(message, user_id) and right is None:
            raise ChatError("forbidden", "Only the author, the room's moderators or an admin can delete this message.")
        if message.deleted_at is not None:
            payload = current_payload(message, room)
            db.session.rollback()  # ends the transaction (and its row lock)
            return payload
        if right is None:  # the author: an archived room stays as it is (a muted author may still delete)
            refuse_write(None, message.room_id)
        else:
            audit(
                {"id": user_id, "name": user_name(user_id)},
                "delete_message",
                "message",
                message.id,
                room.name if room is not None else "",
                right=right,
                author=message.author_name,
            )
        upload = db.session.get(Upload, message.upload_id) if message.upload_id is not None else None
        message.text = ""  # the column is NOT NULL
        message.deleted_at = utc_now()
        db.session.execute(delete(Reaction).where(Reaction.message_id == message.id))
        replace_mentions(message, room)
        unpinned = drop_pin(message.id)  # a pin goes with its message
    except Exception:
        db.session.rollback()
        raise
    payload = commit_and_announce(message, room)
    if unpinned:
        announce_pins(room)
    if message.thread_id is not None:  # a reply: its root's summary counts one fewer
        reply_deleted(message.thread_id, room)
    log.info("delete message=%s by user=%s", message.id, user_id)
    if upload is not None:
        discard_upload(upload)
    return payload


def discard_upload(upload):
    """The file goes once the tombstone is committed; the Upload row stays (its token is never reused)."""
    try:
        uploads.discard(upload)
    except Exception:  # noqa: BLE001 - the message is deleted already; a stray file is only logged
        log.exception("could not discard upload %s", upload.id)


def toggle_reaction(user_id, message_id_value, emoji):
    """Add this user's emoji to the message, or take it back; returns (added, payload)."""
    require_identified(user_id)
    try:
        message, room = readable_message(message_id_value, user_id)
        if message.deleted_at is not None:
            raise ChatError("deleted", "This message was deleted.")
        refuse_write(user_id, message.room_id)
        mine = db.session.get(Reaction, (message.id, user_id, emoji))
        if mine is not None:
            db.session.delete(mine)
            added = False
        else:
            used = set(
                db.session.execute(select(Reaction.emoji).where(Reaction.message_id == message.id).distinct()).scalars()
            )
            limit = current_app.config["CHAT_MAX_REACTIONS_PER_MESSAGE"]
            if emoji not in used and len(used) >= limit:
                raise ChatError("too_many_reactions", f"A message can carry at most {limit} different emoji.")
            db.session.add(Reaction(message_id=message.id, user_id=user_id, emoji=emoji, created_at=utc_now()))
            added = True
        db.session.flush()
    except IntegrityError:
        # The same reaction from this user's other tab, a moment earlier: it is there already.
        db.session.rollback()
        raise ChatError("conflict", "This reaction changed meanwhile; try again.") from None
    except Exception:
        db.session.rollback()
        raise
    return added, commit_and_announce(message, room)


def reaction_reply(message_id_value, emoji, added, payload):
    return {
        "ok": True,
        "id": message_id_value,
        "emoji": emoji,
        "added": added,
        "reactions": payload.get("reactions", []),
    }


# ---- socket events ----


@socketio.on("edit_message")
@rate_limited
def edit_message_event(data=None, *_):
    req = EditRequest.parse(data)
    edit_message(identity()["id"], req.id, req.message)
    return {"ok": True, "id": req.id}


@socketio.on("delete_message")
@rate_limited
def delete_message_event(data=None, *_):
    target = message_id(payload_object(data))
    delete_message(identity()["id"], target)
    return {"ok": True, "id": target}


@socketio.on("react")
@rate_limited
def react_event(data=None, *_):
    req = ReactRequest.parse(data)
    added, payload = toggle_reaction(identity()["id"], req.id, req.emoji)
    return reaction_reply(req.id, req.emoji, added, payload)


# ---- HTTP twins ----


def http_user_id():
    """The signed-in (or guest) user of this request; anonymous requests may change nothing."""
    if not current_user.is_authenticated:
        raise ChatError("forbidden", "Sign in (or pick a guest name) first.")
    # The user's write budget, shared with their sockets (the per-connection one is socket-only).
    check_user_rate(current_user.id)
    return current_user.id


def json_body():
    return payload_object(request.get_json(silent=True))


@bp.patch("/api/messages/<int:message_id_value>")
def edit_message_api(message_id_value):
    user_id = http_user_id()
    req = EditRequest.parse(json_body(), message_id_value)
    return jsonify(ok=True, id=req.id, message=edit_message(user_id, req.id, req.message))


@bp.delete("/api/messages/<int:message_id_value>")
def delete_message_api(message_id_value):
    return jsonify(ok=True, id=message_id_value, message=delete_message(http_user_id(), message_id_value))


@bp.post("/api/messages/<int:message_id_value>/reactions")
def react_api(message_id_value):
    user_id = http_user_id()
    req = ReactRequest.parse(json_body(), message_id_value)
    added, payload = toggle_reaction(user_id, req.id, req.emoji)
    return jsonify(reaction_reply(req.id, req.emoji, added, payload))
