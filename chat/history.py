"""Stored messages: writing one, reading pages of them, over the socket and over HTTP."""
import logging
import re
import threading
from collections import deque
from time import perf_counter

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from . import metrics
from .cluster import channel_order, emit_stored
from .database import read_connection
from .errors import ChatError, http_reader_id
from .extensions import db, socketio
from .formatting import render_markdown
from .models import Mention, Message, utc_now
from .names import name_key
from .uploads import file_info
from .validation import optional_id, optional_limit, optional_room, payload_object
from .writer import message_transaction

log = logging.getLogger("chat.history")
bp = Blueprint("history", __name__)

# Store-then-emit runs under one lock per process, so ids reach every client in the order
# they were given: a client that remembers the last id it saw can ask for "everything after".
# Across nodes, cluster.channel_order orders each channel's writes and the queue delivers them
# in that order; `prev` lets a client notice the gap a queue outage leaves (see chat/cluster.py).
_write_lock = threading.Lock()

MAX_ID = 2**63 - 1


def seed_text(sid, text):
    return f"クライアント {sid}: {text}"


def message_payload(message, room_name, client_id=None, upload=None, reactions=None):
    """The seed's `data` string, plus the stored message's fields and its current state."""
    return payload_of(message.id, message.sender_sid, message.text, message.user_id, message.author_name,
                      message.created_at, room_name, client_id, edited_at=message.edited_at,
                      deleted_at=message.deleted_at, upload=upload, reactions=reactions)


def iso(moment):
    return moment.isoformat(timespec="milliseconds")


def payload_of(message_id, sid, text, user_id, author_name, created_at, room_name, client_id=None, *,
               edited_at=None, deleted_at=None, upload=None, reactions=None):
    """A message as every client receives it, live or from history.

    Optional fields appear only when they apply: `html` (the text's formatting, sanitized; absent
    when the text is plain), `edited_at`, `deleted` + `deleted_at` (a tombstone: text empty, id
    kept), `file` (an upload), `reactions` ([{emoji, count, users}], in the order first used).
    """
    payload = {
        "data": seed_text(sid, text),
        "id": message_id,
        "room": room_name,
        "sid": sid,
        "user": {"id": user_id, "name": author_name},
        "text": text,
        "ts": iso(created_at),
    }
    if client_id is not None:
        payload["client_id"] = client_id
    if deleted_at is not None:
        payload["deleted"] = True
        payload["deleted_at"] = iso(deleted_at)
        return payload
    html = render_markdown(text)
    if html is not None:
        payload["html"] = html
    if edited_at is not None:
        payload["edited_at"] = iso(edited_at)
    if upload is not None:
        payload["file"] = file_info(upload)
    if reactions:
        payload["reactions"] = reactions
    return payload


def reactions_of(message_ids, connection=None):
    """{message id: [{"emoji", "count", "users"}]} for the given messages, emoji in first-use order.
    connection: where to read (default: the request's session)."""
    from .models import Reaction

    if not message_ids:
        return {}
    found = {}
    for message_id, emoji, user_id in (connection or db.session).execute(
        select(Reaction.message_id, Reaction.emoji, Reaction.user_id)
        .where(Reaction.message_id.in_(message_ids))
        .order_by(Reaction.message_id, Reaction.created_at, Reaction.user_id)
    ):
        by_emoji = found.setdefault(message_id, {})
        by_emoji.setdefault(emoji, []).append(user_id)
    return {
        message_id: [{"emoji": e, "count": len(users), "users": users} for e, users in by_emoji.items()]
        for message_id, by_emoji in found.items()
    }


def uploads_of(upload_ids, connection=None):
    """{upload id: the upload's row} for the given ids (from `connection`, else the session)."""
    from .models import Upload

    ids = [i for i in upload_ids if i is not None]
    if not ids:
        return {}
    table = Upload.__table__
    return {u.id: u for u in (connection or db.session).execute(select(table).where(table.c.id.in_(ids)))}


def stored_payloads(rows, room_name, connection=None):
    """Payloads of stored Message rows, with their uploads and reactions (two queries at most,
    through `connection`, else the request's session)."""
    uploads = uploads_of({m.upload_id for m in rows}, connection)
    reactions = reactions_of([m.id for m in rows if m.deleted_at is None], connection)
    return [
        message_payload(m, room_name, upload=uploads.get(m.upload_id), reactions=reactions.get(m.id))
        for m in rows
    ]


MENTION = re.compile(r"@([^\s@]{1,32})")


def mentioned_users(text, room_id):
    """Members of the room named as @name in the text."""
    from .models import RoomMember, User

    keys = {name_key(m) for m in MENTION.findall(text)}
    if not keys:
        return []
    return db.session.execute(
        select(User.id).join(RoomMember, RoomMember.user_id == User.id)
        .where(RoomMember.room_id == room_id, User.name_key.in_(keys))
    ).scalars().all()


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
    from .models import Room

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

    __slots__ = ("identity", "sid", "ref", "text", "client_id", "event", "upload", "mentions", "started",
                 "row", "payload", "created", "error", "done")

    def __init__(self, identity, sid, ref, text, client_id, event, upload, mentions):
        self.identity, self.sid, self.ref, self.text = identity, sid, ref, text
        self.client_id, self.event, self.upload, self.mentions = client_id, event, upload, mentions
        self.started = perf_counter()
        self.row = {
            "room_id": ref.id if ref is not None else None, "user_id": identity["id"],
            "author_name": identity["name"], "sender_sid": sid, "text": text,
            "dedupe_key": dedupe_key_of(identity["id"], client_id, sid), "created_at": utc_now(), "upload_id": None,
        }
        self.payload = self.created = self.error = None
        self.done = False

    @property
    def room_name(self):
        return self.ref.name if self.ref is not None else None

    def stored(self, message_id, order):
        """Build the payload of the stored message (its id known), in id order per channel."""
        row = self.row
        self.payload = payload_of(message_id, self.sid, self.text, row["user_id"], row["author_name"],
                                  row["created_at"], self.room_name, self.client_id, upload=self.upload)
        order.stamp(self.payload, row["room_id"])  # with a message queue: `prev`, the channel's message before this one
        if self.mentions:
            self.payload["mentions"] = self.mentions
        self.created = True
        metrics.DB_WRITE.observe(perf_counter() - self.started)

    def send(self):
        emit_stored(self.event, self.payload, list(self.ref.targets) if self.ref is not None else None)
        self.done = True

    def fail(self, exc):
        self.error, self.done = exc, True


# Messages waiting for the write lock. Whoever takes the lock stores every message waiting
# then, in one transaction ("group commit"): under load a commit (and, on PostgreSQL, its round
# trips) serves many messages, while a lone message is stored at once as before.
_waiting = deque()


def store_and_send(identity, sid, ref, text, client_id, event, upload=None):
    """Store the message, then emit it to the room's targets (everyone when ref is None).

    Returns (payload, created) once the message is stored (and sent); a retried client_id is
    stored and sent once. `upload` (an Upload added to the caller's session, not yet committed)
    is committed with the message, in a transaction of its own.
    """
    room_id = ref.id if ref is not None else None
    mentions = mentioned_users(text, room_id) if room_id is not None and "@" in text else []
    write = Write(identity, sid, ref, text, client_id, event, upload, mentions)
    if upload is None:
        _waiting.append(write)
    with _write_lock:
        if not write.done:
            batch = [write] if upload is not None else _take_waiting(write)
            _store_batch(batch)
    if write.error is not None:
        raise write.error
    return write.payload, write.created


def _take_waiting(own):
    batch = []
    while _waiting:  # popleft is atomic: a message appended meanwhile (threads) stays for the next
        batch.append(_waiting.popleft())
    if own not in batch:  # taken by a holder that stopped before storing it
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
                log.warning("a batch of %d messages failed (%s: %s); storing them one at a time", len(batch),
                            type(exc).__name__, getattr(exc, "orig", exc))  # not the rows: they hold the texts
            _store_each(batch)
            return
        for write in stored:
            write.send()
    except Exception as exc:  # noqa: BLE001 - every writer in the batch hears of it
        for write in batch:
            if not write.done:
                write.fail(exc)
    finally:
        for write in batch:
            if not write.done:  # stopped by something that is no Exception (the greenlet killed)
                write.fail(ChatError("internal_error", "The message could not be stored."))


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

    Prebuilt Core statements on the process's writer connection (chat/writer.py): no ORM unit of
    work, no pool checkout, no reload after commit, and no statement to build and key for the
    compiled cache per message (they cost more than the write itself on this path, which every
    message takes). A message with an upload (always stored alone) goes through the request's
    session, which holds the Upload.
    """
    upload = batch[0].upload if len(batch) == 1 else None
    with message_transaction(session=upload is not None) as connection, \
            channel_order({w.row["room_id"] for w in batch}, connection) as order:
        if upload is not None:
            db.session.flush()  # the upload's id
            batch[0].row["upload_id"] = upload.id
        if len(batch) == 1:
            ids = [connection.execute(INSERT_MESSAGE, batch[0].row).scalar_one()]
        else:
            ids = connection.execute(INSERT_MESSAGES, [w.row for w in batch]).scalars().all()
        mentions = [
            {"message_id": message_id, "user_id": u, "room_id": w.row["room_id"]}
            for w, message_id in zip(batch, ids, strict=True) for u in w.mentions
        ]
        if mentions:
            connection.execute(INSERT_MENTIONS, mentions)
    stored = sorted(zip(batch, ids, strict=True), key=lambda pair: pair[1])
    for write, message_id in stored:
        write.stored(message_id, order)
    return [write for write, _ in stored]


def largest_id():
    """The largest id the messages table can hold: `id` is a 32-bit SERIAL on PostgreSQL (a larger
    bound parameter is an error there, not a miss); SQLite's rowid has 64 bits."""
    return 2**31 - 1 if db.session.get_bind().dialect.name == "postgresql" else MAX_ID


def _page_statement(global_channel, kind):
    """One of the six page queries, built once (every join runs one: building and keying a
    statement per call cost more than running it). Core rows, not ORM objects: a page is only
    read, and its rows have the attributes message_payload reads."""
    c = Message.__table__.c
    channel = c.room_id.is_(None) if global_channel else c.room_id == bindparam("room_id")
    query = select(Message.__table__).where(channel)
    if kind == "since":
        query = query.where(c.id > bindparam("bound")).order_by(c.id)
    elif kind == "before":
        query = query.where(c.id < bindparam("bound")).order_by(c.id.desc())
    else:
        query = query.order_by(c.id.desc())
    return query.limit(bindparam("limit"))


PAGE_QUERIES = {(g, k): _page_statement(g, k) for g in (False, True) for k in ("latest", "since", "before")}


def messages_page(room_id, room_name, since=None, before=None, limit=50):
    """Messages of one channel, oldest first: after `since`, or the newest before `before`.

    Returns (payloads, has_more): has_more means older ones remain (before/latest) or newer
    ones remain (since).
    """
    # Ids are 32-bit on PostgreSQL (64-bit on SQLite): a bound past the largest storable id
    # means "nothing newer" / "from the newest", not a database error.
    largest = largest_id()
    if since is not None and since >= largest:
        return [], False
    if before is not None and before > largest:
        before = None
    kind = "since" if since is not None else "before" if before is not None else "latest"
    params = {"limit": limit + 1}
    if kind != "latest":
        params["bound"] = since if since is not None else before
    if room_id is not None:
        params["room_id"] = room_id
    with read_connection() as connection:
        rows = connection.execute(PAGE_QUERIES[room_id is None, kind], params).all()
        has_more = len(rows) > limit
        rows = rows[:limit]
        if kind != "since":
            rows.reverse()
        payloads = stored_payloads(rows, room_name, connection)
        if room_id is not None and payloads:
            mentioned = {}
            for message_id, user_id in connection.execute(
                select(Mention.message_id, Mention.user_id).where(Mention.message_id.in_([p["id"] for p in payloads]))
            ):
                mentioned.setdefault(message_id, []).append(user_id)
            for payload in payloads:
                if payload["id"] in mentioned:
                    payload["mentions"] = sorted(mentioned[payload["id"]])
    return payloads, has_more


def history_reply(room_name, room_id=None, since=None, before=None, limit=None):
    """A page of a channel's history; the caller has checked that it may be read."""
    cfg = current_app.config
    if limit is None:
        limit = cfg["CHAT_REPLAY_LIMIT"] if since is not None else cfg["CHAT_HISTORY_ON_JOIN"]
    reply = {"room": room_name, "messages": [], "has_more": False}
    if since is not None:
        reply["since"] = since  # has_more: newer messages remain (ask again from the last id)
    if before is not None:
        reply["before"] = before  # has_more: older messages remain
    reply["messages"], reply["has_more"] = messages_page(room_id, room_name, since, before, limit)
    return reply


@socketio.on("get_history")
def get_history_event(data=None, *_):
    data = payload_object({} if data is None else data)
    max_limit = current_app.config["CHAT_HISTORY_PAGE_MAX"]
    since, before = optional_id(data, "since"), optional_id(data, "before")
    if since is not None and before is not None:
        raise ChatError("invalid_query", "Give 'since' or 'before', not both.")
    name = optional_room(data)
    room_id = None
    if name is not None:
        from .rooms import readable_here

        ref = readable_here(name)
        name, room_id = ref.name, ref.id
    reply = history_reply(name, room_id, since, before, optional_limit(data, max_limit))
    return {"ok": True, **reply}


def query_int(name, minimum, maximum):
    raw = request.args.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or not minimum <= int(raw) <= maximum:
        raise ChatError("invalid_query", f"'{name}' must be an integer from {minimum} to {maximum}.")
    return int(raw)


def http_history(room_name):
    user_id = http_reader_id()
    since = query_int("since", 0, MAX_ID)
    before = query_int("before", 1, MAX_ID)
    limit = query_int("limit", 1, current_app.config["CHAT_HISTORY_PAGE_MAX"])
    if since is not None and before is not None:
        raise ChatError("invalid_query", "Give 'since' or 'before', not both.")
    room_id = None
    if room_name is not None:
        from .rooms import readable_room

        ref = readable_room(room_name, user_id)  # unknown_room: 404
        room_name, room_id = ref.name, ref.id
    return jsonify(history_reply(room_name, room_id, since, before, limit or 50))


@bp.get("/api/rooms/<path:room>/messages")
def room_messages_api(room):
    return http_history(room)


@bp.get("/api/messages")
def global_messages_api():
    return http_history(None)
