"""Following threads and reading them: who follows, the read mark, unread and mentions per thread.

Stored on the server (thread_follows), so every tab and device of a user agrees; every change is
told to all of the user's sockets as `thread_state {id, room, following, unread, mentions,
last_read_id}` (through their user channel, which reaches every node).
"""

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..extensions import db, socketio
from ..models import Mention, Message, Room
from ..rooms.access import member_room_ids, user_channel
from .models import ThreadFollow

F = ThreadFollow


def upsert(rows, update):
    """INSERT the rows into thread_follows; on a row that exists, set the columns `update` names
    (None: keep the row as it is). rows: dicts with thread_id, user_id, room_id and the rest."""
    if not rows:
        return
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(F.__table__).values(rows)
    keys = [F.thread_id, F.user_id]
    if update is None:
        statement = statement.on_conflict_do_nothing(index_elements=keys)
    else:
        statement = statement.on_conflict_do_update(index_elements=keys, set_=update(statement.excluded))
    db.session.execute(statement)


def larger(a, b):
    """The larger of two values in SQL: GREATEST on PostgreSQL, SQLite's two-argument max."""
    return (func.greatest if db.session.get_bind().dialect.name == "postgresql" else func.max)(a, b)


def follow(root_id, room_id, user_ids, read_up_to=None):
    """The users follow the thread (again); read_up_to: their read mark moves up to it."""
    rows = [
        {"thread_id": root_id, "user_id": u, "room_id": room_id, "following": True, "last_read_id": read_up_to or 0}
        for u in user_ids
    ]

    def update(new):
        if read_up_to is None:
            return {"following": True}
        return {"following": True, "last_read_id": larger(F.last_read_id, new.last_read_id)}

    upsert(rows, update)


def follow_if_new(root_id, room_id, user_ids):
    """The users follow the thread unless they have a state of it already (e.g. they unfollowed)."""
    upsert([{"thread_id": root_id, "user_id": u, "room_id": room_id, "following": True} for u in user_ids], None)


def set_following(root_id, room_id, user_id, following):
    upsert(
        [{"thread_id": root_id, "user_id": user_id, "room_id": room_id, "following": following}],
        lambda new: {"following": new.following},
    )


def mark_read(root_id, room_id, user_id, last):
    """The user's read mark in the thread moves up to `last` (never down); following is kept."""
    row = db.session.get(F, (root_id, user_id))
    if row is None:
        db.session.add(F(thread_id=root_id, user_id=user_id, room_id=room_id, following=False, last_read_id=last))
    elif last > row.last_read_id:
        row.last_read_id = last


def counts(*where):
    """{(thread id, user id): (unread, mentions)} for the thread_follows rows matching `where`:
    replies by others after the read mark (tombstones not counted) and mentions among them."""
    unread_join = (
        (Message.thread_id == F.thread_id)
        & (Message.id > F.last_read_id)
        & Message.deleted_at.is_(None)
        & (Message.user_id.is_(None) | (Message.user_id != F.user_id))
    )
    unread = db.session.execute(
        select(F.thread_id, F.user_id, func.count(Message.id))
        .select_from(F)
        .outerjoin(Message, unread_join)
        .where(*where)
        .group_by(F.thread_id, F.user_id)
    ).all()
    mentions = db.session.execute(
        select(F.thread_id, F.user_id, func.count())
        .select_from(F)
        .join(Message, unread_join)
        .join(Mention, (Mention.message_id == Message.id) & (Mention.user_id == F.user_id))
        .where(*where)
        .group_by(F.thread_id, F.user_id)
    ).all()
    found = {(t, u): (n, 0) for t, u, n in unread}
    for t, u, n in mentions:
        found[t, u] = (found.get((t, u), (0, 0))[0], n)
    return found


def readable_rows(*where):
    """thread_follows rows matching `where` (with their room) whose user may still read the room:
    a member of a private room who was removed hears nothing more of its threads."""
    rows = db.session.execute(select(F, Room).join(Room, Room.id == F.room_id).where(*where)).all()
    private = {}
    for follow_row, room in rows:
        if room.private:
            private.setdefault(room.id, set()).add(follow_row.user_id)
    members = {(r, u) for r, users in private.items() for u in users if r in member_room_ids(u, [r])}
    return [(f, room) for f, room in rows if not room.private or (room.id, f.user_id) in members]


def state_of(follow_row, room, unread_mentions):
    unread, mentions = unread_mentions
    return {
        "id": follow_row.thread_id,
        "room": room.name,
        "following": follow_row.following,
        "unread": unread,
        "mentions": mentions,
        "last_read_id": follow_row.last_read_id,
    }


def states(*where):
    """thread_state payloads of the readable thread_follows rows matching `where`."""
    rows = readable_rows(*where)
    found = counts(*where) if rows else {}
    return [state_of(f, room, found.get((f.thread_id, f.user_id), (0, 0))) for f, room in rows]


def tell_users(root_id, user_ids=None):
    """thread_state of the thread to its users (all who have a state of it, or those given)."""
    where = [F.thread_id == root_id]
    if user_ids is not None:
        where.append(F.user_id.in_(list(user_ids)))
    rows = readable_rows(*where)
    found = counts(*where) if rows else {}
    for follow_row, room in rows:
        state = state_of(follow_row, room, found.get((root_id, follow_row.user_id), (0, 0)))
        socketio.emit("thread_state", state, to=user_channel(follow_row.user_id))
