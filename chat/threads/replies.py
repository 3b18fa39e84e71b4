"""Replying in a thread: which root a `reply_to` names, and what follows a stored reply.

A reply is an ordinary room message with `thread_id` (the root's id): stored, ordered and sent
to the room like any other (a client that knows nothing of threads sees a plain room_message).
Then, in a transaction of its own: the replier, the mentioned members and the root's author
follow the thread; the root's new summary goes out as `message_updated`; the followers get
their `thread_state` (unread, mentions).
"""

from sqlalchemy import select

from ..cluster.queue import emit_stored
from ..errors import ChatError
from ..extensions import db
from ..messages.payloads import stored_payloads
from ..messages.store import write_lock
from ..models import Message
from ..rooms.access import ref_for
from ..validation import MAX_ID
from . import follows


def largest_id():
    """Ids are 32-bit on PostgreSQL: a larger value is no message, not a database error."""
    return 2**31 - 1 if db.session.get_bind().dialect.name == "postgresql" else MAX_ID


def root_in_room(message_id, room_id, room_name):
    """The root message of the thread `message_id` belongs to (itself, or a reply's root), when
    it is a live message of the room; not_found otherwise (never saying which it was)."""
    message = None
    if message_id <= largest_id():
        message = db.session.execute(select(Message).where(Message.id == message_id)).scalar_one_or_none()
    if message is None or message.room_id != room_id or message.deleted_at is not None:
        raise ChatError("not_found", f"No message {message_id} in '{room_name}' to reply to.")
    if message.thread_id is None:
        return message
    return db.session.get(Message, message.thread_id)  # a reply to a reply joins the root's thread


def after_reply(ref, root, payload, created):
    """Follows, the root's summary (message_updated) and the followers' thread_state."""
    user_id = payload["user"]["id"]
    if user_id is not None and created:
        follows.follow(root.id, ref.id, [user_id], read_up_to=payload["id"])  # one's own reply is read
        follows.follow(root.id, ref.id, [u for u in payload.get("mentions", []) if u != user_id])
        if root.user_id is not None and root.user_id != user_id:
            follows.follow_if_new(root.id, ref.id, [root.user_id])
    db.session.commit()  # also ends a read transaction begun before the reply was stored (SQLite's snapshot)
    with write_lock:  # this node's updates of one message go out in commit order
        db.session.expire(root)
        summary = stored_payloads([root], ref.name)[0]
        emit_stored("message_updated", summary, list(ref.targets))
    follows.tell_users(root.id)
    return summary


def reply_deleted(root_id, room):
    """A reply became a tombstone: the root's summary and its followers' unread change."""
    root = db.session.get(Message, root_id)
    if root is None:
        return
    with write_lock:
        summary = stored_payloads([root], room.name)[0]
        emit_stored("message_updated", summary, list(ref_for(room).targets))
    follows.tell_users(root_id)
