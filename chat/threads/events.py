"""Thread events: `follow_thread`, `mark_thread_read`, `list_threads` (the page's "Threads" view)."""

from flask import current_app
from sqlalchemy import select

from ..errors import ChatError
from ..extensions import db, socketio
from ..messages.payloads import stored_payloads
from ..models import Message, Room
from ..ratelimit import rate_limited
from ..rooms.access import can_read, identity
from ..validation import optional_id, payload_object
from . import follows
from .models import ThreadFollow
from .replies import largest_id


def signed_in():
    who = identity()
    if who["id"] is None:
        raise ChatError("forbidden", "Sign in (or pick a guest name) first.")
    return who["id"]


def readable_root(data, user_id):
    """The thread (its root message) named by `id` and its room, when the user may read the
    room; a reply names its root. not_found otherwise, never saying which."""
    thread_id = optional_id(data, "id")
    if thread_id is None:
        raise ChatError("missing_field", "'id' (a thread's root message id) is required.")
    message = db.session.get(Message, thread_id) if 0 < thread_id <= largest_id() else None
    if message is not None and message.thread_id is not None:
        message = db.session.get(Message, message.thread_id)
    room = db.session.get(Room, message.room_id) if message is not None and message.room_id is not None else None
    if room is None or not can_read(room, user_id):
        raise ChatError("not_found", f"No thread {thread_id} that you can read.")
    return message, room


def follow_flag(data):
    value = data.get("follow", True)
    if not isinstance(value, bool):
        raise ChatError("invalid_type", "'follow' must be true or false.")
    return value


def follow_thread(user_id, data):
    root, room = readable_root(data, user_id)
    follows.set_following(root.id, room.id, user_id, follow_flag(data))
    db.session.commit()
    follows.tell_users(root.id, [user_id])
    return {"ok": True, "id": root.id, "follow": follow_flag(data)}


def mark_thread_read(user_id, data):
    root, room = readable_root(data, user_id)
    last = optional_id(data, "last")
    if last is None:
        raise ChatError("missing_field", "'last' (the last reply read) is required.")
    follows.mark_read(root.id, room.id, user_id, min(last, largest_id()))
    db.session.commit()
    follows.tell_users(root.id, [user_id])
    return {"ok": True, "id": root.id, "last_read_id": db.session.get(ThreadFollow, (root.id, user_id)).last_read_id}


def list_threads(user_id):
    """The followed threads the user may read, latest reply first, with their roots and unread."""
    states = follows.states(ThreadFollow.user_id == user_id, ThreadFollow.following.is_(True))
    roots = db.session.execute(select(Message).where(Message.id.in_([s["id"] for s in states]))).scalars().all()
    by_id = {m.id: m for m in roots}
    threads = []
    for state in states:
        root = by_id.get(state["id"])
        if root is not None:
            threads.append(state | {"root": stored_payloads([root], state["room"])[0]})
    threads.sort(key=lambda t: t["root"].get("thread", {}).get("last_reply_at", t["root"]["ts"]), reverse=True)
    return {"ok": True, "threads": threads[: current_app.config.get("CHAT_THREADS_LISTED", 100)]}


@socketio.on("follow_thread")
@rate_limited
def follow_thread_event(data=None, *_):
    return follow_thread(signed_in(), payload_object(data))


@socketio.on("mark_thread_read")
@rate_limited
def mark_thread_read_event(data=None, *_):
    return mark_thread_read(signed_in(), payload_object(data))


@socketio.on("list_threads")
@rate_limited
def list_threads_event(data=None, *_):
    payload_object({} if data is None else data)
    return list_threads(signed_in())
