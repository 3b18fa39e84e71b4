"""A thread's summary on its root message: `thread {replies, last_reply_at, participants}`."""

from flask import current_app
from sqlalchemy import func, select

from ..extensions import db
from ..models import Message


def summaries_of(message_ids, connection=None):
    """{root id: {"replies", "last_reply_at", "participants"}} for those of the given messages that
    have replies (tombstones not counted). participants: the repliers, latest first, as
    {"id", "name"}, at most CHAT_THREAD_PARTICIPANTS of them. Two queries at most."""
    if not message_ids:
        return {}
    reader = connection or db.session
    live = (Message.thread_id.in_(message_ids), Message.deleted_at.is_(None))
    counts = reader.execute(
        select(Message.thread_id, func.count(), func.max(Message.created_at)).where(*live).group_by(Message.thread_id)
    ).all()
    if not counts:
        return {}
    found = {
        root: {"replies": n, "last_reply_at": last.isoformat(timespec="milliseconds"), "participants": []}
        for root, n, last in counts
    }
    shown = current_app.config.get("CHAT_THREAD_PARTICIPANTS", 5)
    latest = func.max(Message.id)
    repliers = reader.execute(
        select(Message.thread_id, Message.user_id, Message.author_name, latest)
        .where(Message.thread_id.in_(list(found)), Message.deleted_at.is_(None))
        .group_by(Message.thread_id, Message.user_id, Message.author_name)
        .order_by(latest.desc())
    )
    for root, user_id, name, _ in repliers:
        people = found[root]["participants"]
        if len(people) < shown and all(p["id"] != user_id or p["name"] != name for p in people):
            people.append({"id": user_id, "name": name})
    return found
