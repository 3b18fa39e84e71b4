"""Storing messages: checks of who sent what, group commit in id order, then the send (`store_and_send`)."""

import logging
import re
import threading
from collections import deque
from time import perf_counter

from flask import current_app
from sqlalchemy import insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from .. import metrics
from ..admin.policy import refuse_write
from ..cluster.order import channel_order
from ..cluster.queue import emit_stored
from ..database import read_connection
from ..errors import ChatError
from ..extensions import db
from ..models import Mention, Message, Room, RoomMember, User, utc_now
from ..names import name_key
from ..push.deliver import notify_stored
from . import pipeline
from .authors import author_of
from .payloads import payload_of, stored_payloads
from .write_checks import INSERT_CHECKED, allowed_writes
from .writer import message_transaction

log = logging.getLogger("chat.history")

# Store-then-emit runs under one lock per process, so ids reach every client in the order
# they were given: a client that remembers the last id it saw can ask for "everything after".
# Across nodes, cluster.channel_order orders each channel's writes and the queue delivers them
# in that order; `prev` lets a client notice the gap a queue outage leaves (see chat/cluster/order.py).
write_lock = threading.Lock()

MAX_ID = 2**63 - 1
# A batch of at most this many rows is one INSERT statement (SQLAlchemy's "insertmanyvalues"
# sends 1,000 rows per statement by default).
SINGLE_STATEMENT_ROWS = 500


MENTION = re.compile(r"@([^\s@]{1,32})")


def mentioned_users(text, room_id, connection=None):
    """Members of the room named as @name in the text (connection: where to ask; the session's
    by default)."""
    keys = {name_key(m) for m in MENTION.findall(text)}
    if not keys:
        return []
    return (
        (connection or db.session)
        .execute(
            select(User.id)
            .join(RoomMember, RoomMember.user_id == User.id)
            .where(RoomMember.room_id == room_id, User.name_key.in_(keys))
        )
        .scalars()
        .all()
    )


def dedupe_key_of(user_id, client_id, sid=None):
    """A retried send with the same client_id by the same sender is stored once.

    The sender is the user (any of their connections, before and after a reconnect); a client
    without a session has no identity but its Socket.IO sid, so its retries count on that one
    connection only, and two such clients picking the same client_id never collide. The longest
    key, "anon:" + a 64-character sid + ":" + a 64-character client_id, fits the column (160).
    """
    if client_id is None:
        return None
    if user_id is not None:
        return f"{user_id}:{client_id}"
    return f"anon:{sid}:{client_id}" if sid is not None else None


def sent_before(user_id, client_id, room_name=None, sid=None):
    """The payload of the message this sender already stored with this client_id, or None.

    room_name: the channel's name when the caller knows it (else it is looked up); sid: the
    connection of a sender without a user id.
    """
    key = dedupe_key_of(user_id, client_id, sid)
    if key is None:
        return None
    message = db.session.execute(select(Message).filter_by(dedupe_key=key)).scalar_one_or_none()
    if message is None:
        return None
    if room_name is None and message.room_id is not None:
        room_name = db.session.get(Room, message.room_id).name
    return stored_payloads([message], room_name)[0] | {"client_id": client_id}


INSERT_MESSAGE = insert(Message.__table__).returning(Message.__table__.c.id)
# Several rows in one statement; ids come back in the rows' order.
INSERT_MESSAGES = insert(Message.__table__).returning(Message.__table__.c.id, sort_by_parameter_order=True)
INSERT_MENTIONS = insert(Mention.__table__)


class Write:
    """One message waiting to be stored and sent (see store_and_send)."""

    __slots__ = (
        "identity",
        "sid",
        "ref",
        "text",
        "client_id",
        "event",
        "upload",
        "mentions",
        "author",
        "thread_id",
        "started",
        "row",
        "payload",
        "created",
        "error",
        "done",
        "slot",
    )

    def __init__(self, identity, sid, ref, text, client_id, event, upload, mentions, thread_id=None):
        self.identity, self.sid, self.ref, self.text, self.thread_id = identity, sid, ref, text, thread_id
        self.client_id, self.event, self.upload, self.mentions = client_id, event, upload, mentions
        self.started = perf_counter()
        self.row = {
            "room_id": ref.id if ref is not None else None,
            "user_id": identity["id"],
            "author_name": identity["name"],
            "sender_sid": sid,
            "text": text,
            "dedupe_key": dedupe_key_of(identity["id"], client_id, sid),
            "created_at": utc_now(),
            "upload_id": None,
            "thread_id": thread_id,
        }
        self.payload = self.created = self.error = self.author = self.slot = None
        self.done = False

    @property
    def room_name(self):
        return self.ref.name if self.ref is not None else None

    def stored(self, message_id, order):
        """Build the payload of the stored message (its id known), in id order per channel."""
        row = self.row
        self.payload = payload_of(
            message_id,
            self.sid,
            self.text,
            row["user_id"],
            row["author_name"],
            row["created_at"],
            self.room_name,
            self.client_id,
            upload=self.upload,
            mentions=self.mentions,
            author=self.author,
            thread_id=self.thread_id,
        )
        order.stamp(self.payload, row["room_id"])  # with a message queue: `prev`, the channel's message before this one
        self.created = True
        metrics.DB_WRITE.observe(perf_counter() - self.started)

    def send(self):
        emit_stored(self.event, self.payload, list(self.ref.targets) if self.ref is not None else None, ordered=True)
        self.done = True
        notify_stored(self.ref, self.payload, self.mentions)  # Web Push, queued: nothing waits for it

    def fail(self, exc):
        self.error, self.done = exc, True


# Messages waiting for the write lock. Whoever takes the lock stores every message waiting
# then, in one transaction ("group commit"): under load a commit (and, on PostgreSQL, its round
# trips) serves many messages, while a lone message is stored at once as before.
_waiting = deque()


def store_and_send(identity, sid, ref, text, client_id, event, upload=None, thread_id=None, slot=None):
    """Store the message, then emit it to the room's targets (everyone when ref is None).

    Returns (payload, created) once the message is stored (and sent); a retried client_id is
    stored and sent once. `upload` (an Upload added to the caller's session, not yet committed)
    is committed with the message, in a transaction of its own. `thread_id`: a reply's root
    (checked by chat/threads/replies.py). `slot` (chat/messages/pipeline.py): where an ack can
    go later; when a commit is in flight the message is then queued for the next one, and the
    result is (None, what the handler returns).
    """
    room_id = ref.id if ref is not None else None
    mentions = []
    if room_id is not None and "@" in text:
        # A read that needs no transaction: one round trip on PostgreSQL (chat/database.py).
        with read_connection() as connection:
            mentions = mentioned_users(text, room_id, connection)
    # Whether the sender may write there (muted or deactivated, an archived or deleted room) is
    # checked by the INSERT itself (INSERT_CHECKED, _insert).
    write = Write(identity, sid, ref, text, client_id, event, upload, mentions, thread_id)
    write.author = author_of(identity["id"])  # display name and avatar, before the lock (cached)
    if slot is not None and (write_lock.locked() or _waiting or pipeline.in_flight(slot.sid)):
        write.slot = slot
        reply = pipeline.queued(write, _waiting, store_waiting)
        if reply is not None:
            return None, reply
        write.slot = None  # the process holds CHAT_PIPELINE_LIMIT queued: stored before reading on
    if upload is None:
        _waiting.append(write)
    with write_lock:
        if upload is not None and _waiting:
            _store_batch(_take_waiting(None))  # those that came first are stored first
        if not write.done:
            batch = [write] if upload is not None else _take_waiting(write)
            _store_batch(batch)
    if write.error is not None:
        raise write.error
    return write.payload, write.created


def store_waiting():
    """Store what waits for the write lock (the committer of queued messages)."""
    with write_lock:
        if _waiting:
            _store_batch(_take_waiting(None))


def _take_waiting(own):
    batch = []
    while _waiting:  # popleft is atomic: a message appended meanwhile (threads) stays for the next
        batch.append(_waiting.popleft())
    if own is not None and own not in batch:  # taken by a holder that stopped before storing it
        batch.insert(0, own)
    return batch


def _store_batch(batch):
    """Store the batch in one transaction, then send each message in id order (under the lock).

    When the database refuses one of its rows (a retried client_id, a value it cannot store),
    the writes are stored again one at a time: the bad one fails alone, the others are stored,
    sent and acked.
    """
    try:
        if len(batch) == 1:
            _store_one(batch[0])
            return
        try:
            stored = _insert(batch)
        except Exception as exc:
            if not refused_row(exc):
                raise
            if not isinstance(exc, IntegrityError):  # a retried client_id is routine; anything else is news
                log.warning(
                    "a batch of %d messages failed (%s: %s); storing them one at a time",
                    len(batch),
                    type(exc).__name__,
                    getattr(exc, "orig", exc),
                )  # not the rows: they hold the texts
            _store_each(batch)
            return
        for write in stored:
            write.send()
    except Exception as exc:  # noqa: BLE001 - every writer in the batch hears of it
        for write in batch:
            if not write.done:
                write.fail(exc)
    finally:
        stopped = None
        for write in batch:
            if not write.done:  # stopped by something that is no Exception (the greenlet killed)
                write.fail(ChatError("internal_error", "The message could not be stored."))
            if write.slot is not None:  # queued: its ack, in batch (arrival) order
                try:
                    pipeline.finished(write)
                except BaseException as exc:  # noqa: BLE001 - every other write still gets its ack
                    stopped = stopped or exc
        if stopped is not None:
            raise stopped


def refused_row(exc):
    """True when the database (or its driver) refused a value the batch holds, so that storing the
    writes one at a time tells the good ones from the bad: not when the database is unreachable,
    full or cut off, where each write would fail again (each after a timeout, holding the lock) and
    a COMMIT whose outcome is unknown might be stored twice."""
    if isinstance(exc, DBAPIError):
        return not exc.connection_invalidated and not isinstance(exc, OperationalError | InterfaceError)
    return isinstance(exc, ValueError | TypeError)  # a value the driver could not encode or bind


def _store_each(batch):
    """Store the writes one at a time, each with its own result; once one finds the database
    unreachable, the rest fail with it at once."""
    for write in batch:
        if write.done:
            continue
        _store_one(write)
        if write.error is not None and not refused_row(write.error):
            for rest in batch:
                if not rest.done:
                    rest.fail(write.error)
            return


def _store_one(write):
    try:
        _insert([write])
    except IntegrityError as exc:
        existing = sent_before(write.identity["id"], write.client_id, write.room_name, write.sid)
        if existing is None:
            write.fail(exc)
        else:
            write.payload, write.created, write.done = existing, False, True
        return
    except Exception as exc:  # noqa: BLE001
        write.fail(exc)
        return
    write.send()


def _insert(batch):
    """INSERT the batch's messages (and mentions) and commit: one transaction, ids in batch order.
    Returns the writes in id order, their payloads built.

    Prebuilt Core statements on the process's writer connection (chat/messages/writer.py): no ORM unit of
    work, no pool checkout, no reload after commit, and no statement to build and key for the
    compiled cache per message (they cost more than the write itself on this path, which every
    message takes). A message with an upload (always stored alone) goes through the request's
    session, which holds the Upload.
    """
    upload = batch[0].upload if len(batch) == 1 else None
    # One INSERT statement is a transaction of its own: on PostgreSQL it is sent alone, without
    # BEGIN and COMMIT (one round trip instead of two; chat/pgwire.py sends BEGIN with the
    # INSERT). Mentions, the order across nodes and a batch SQLAlchemy may send in several
    # statements need a transaction around them.
    atomic = (
        len(batch) > SINGLE_STATEMENT_ROWS
        or (len(batch) > 1 and db.engine.dialect.name == "sqlite")  # one INSERT per row there
        or any(w.mentions for w in batch)
        or bool(current_app.config.get("CHAT_MESSAGE_QUEUE"))
    )
    with (
        message_transaction(session=upload is not None, atomic=atomic) as connection,
        channel_order({w.row["room_id"] for w in batch}, connection) as order,
    ):
        if upload is not None:
            db.session.flush()  # the upload's id
            batch[0].row["upload_id"] = upload.id
        if len(batch) == 1:
            ids = [_insert_checked(batch[0], connection)]
        else:
            batch = allowed_writes(batch, connection)
            ids = connection.execute(INSERT_MESSAGES, [w.row for w in batch]).scalars().all() if batch else []
        mentions = [
            {"message_id": message_id, "user_id": u, "room_id": w.row["room_id"]}
            for w, message_id in zip(batch, ids, strict=True)
            for u in w.mentions
        ]
        if mentions:
            connection.execute(INSERT_MENTIONS, mentions)
    stored = sorted(zip(batch, ids, strict=True), key=lambda pair: pair[1])
    for write, message_id in stored:
        write.stored(message_id, order)
    return [write for write, _ in stored]


def _insert_checked(write, connection):
    """INSERT one message if its sender may write there (one statement); else raise
    refuse_write's ChatError (the transaction is rolled back, the connection kept)."""
    row = write.row
    if row["user_id"] is None and row["room_id"] is None:  # nobody's account, no room: nothing to check
        return connection.execute(INSERT_MESSAGE, row).scalar_one()
    message_id = connection.execute(INSERT_CHECKED, {**row, "now": utc_now()}).scalar()
    if message_id is None:
        refuse_write(row["user_id"], row["room_id"], connection)  # raises the reason
        # Allowed by now (a mute that ended between the two statements).
        message_id = connection.execute(INSERT_MESSAGE, row).scalar_one()
    return message_id
