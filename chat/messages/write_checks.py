"""Who may store a message where, checked by the statements that store it (see store.py):
refuse_write's rules (a muted or deactivated sender, a deleted or archived room) without a round
trip or an ORM session of their own per message."""

from sqlalchemy import Integer, bindparam, exists, insert, or_, select

from ..admin.policy import refuse_write
from ..errors import ChatError
from ..models import Message, Room, User, utc_now

# refuse_write's rules as clauses: a user barred from writing at :now, a room open to writing.
BARRED = or_(User.deactivated_at.is_not(None), User.muted_until > bindparam("now", type_=User.muted_until.type))
OPEN = Room.archived_at.is_(None)


def _checked_insert():
    """INSERT one message only if its sender may write there: not deactivated, not muted (at
    :now), into a room that exists and is not archived (admin.policy.refuse_write's rules). The
    check and the write are one statement, in the write's transaction: no round trip of its
    own, no ORM session per message (they cost ~12 % of the server's CPU at S1, BENCHMARKS.md).
    No row back: refused, and refuse_write says why."""
    table = Message.__table__
    columns = ["room_id", "user_id", "author_name", "sender_sid", "text", "dedupe_key", "created_at"]
    columns += ["upload_id", "thread_id"]
    user_id, room_id = bindparam("user_id", type_=Integer), bindparam("room_id", type_=Integer)
    user_may = or_(user_id.is_(None), ~exists().where(User.id == user_id, BARRED))
    room_open = or_(room_id.is_(None), exists().where(Room.id == room_id, OPEN))
    values = select(*(bindparam(name, type_=table.c[name].type) for name in columns)).where(user_may, room_open)
    return insert(table).from_select(columns, values).returning(table.c.id)


INSERT_CHECKED = _checked_insert()


_ids = bindparam("ids", expanding=True)
BARRED_USERS = select(User.id).where(User.id.in_(_ids), BARRED)
OPEN_ROOMS = select(Room.id).where(Room.id.in_(_ids), OPEN)


def allowed_writes(batch, connection):
    """The writes of a batch whose senders may write there (refuse_write's rules, two queries for
    the whole batch, in its transaction); each other write fails with refuse_write's reason."""
    users = {w.row["user_id"] for w in batch} - {None}
    rooms = {w.row["room_id"] for w in batch} - {None}
    barred = set(connection.execute(BARRED_USERS, {"ids": list(users), "now": utc_now()}).scalars()) if users else ()
    open_rooms = set(connection.execute(OPEN_ROOMS, {"ids": list(rooms)}).scalars()) if rooms else ()
    allowed = []
    for write in batch:
        user_id, room_id = write.row["user_id"], write.row["room_id"]
        if user_id in barred or (room_id is not None and room_id not in open_rooms):
            try:
                refuse_write(user_id, room_id, connection)
            except ChatError as exc:
                write.fail(exc)
                continue
        allowed.append(write)
    return allowed
