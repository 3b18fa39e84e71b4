"""A stored message as every client receives it: live, from history, after an edit, in search results."""

from sqlalchemy import select

from ..extensions import db
from ..models import Mention, Reaction, Upload
from ..threads.summary import summaries_of
from ..uploads.files import file_info
from .authors import authors_of
from .formatting import render_markdown

# The "sid" of a webhook's messages ("hook:<id>"): no Socket.IO sid holds a colon.
BOT_SID_PREFIX = "hook:"


def seed_text(sid, text):
    return f"クライアント {sid}: {text}"


def message_payload(
    message, room_name, client_id=None, upload=None, reactions=None, mentions=None, author=None, thread=None
):
    """The seed's `data` string, plus the stored message's fields and its current state."""
    return payload_of(
        message.id,
        message.sender_sid,
        message.text,
        message.user_id,
        message.author_name,
        message.created_at,
        room_name,
        client_id,
        edited_at=message.edited_at,
        deleted_at=message.deleted_at,
        upload=upload,
        reactions=reactions,
        mentions=mentions,
        author=author,
        thread_id=getattr(message, "thread_id", None),
        thread=thread,
    )


def iso(moment):
    return moment.isoformat(timespec="milliseconds")


def payload_of(
    message_id,
    sid,
    text,
    user_id,
    author_name,
    created_at,
    room_name,
    client_id=None,
    *,
    edited_at=None,
    deleted_at=None,
    upload=None,
    reactions=None,
    mentions=None,
    author=None,
    thread_id=None,
    thread=None,
):
    """A message as every client receives it: live, from history, updated, found by search.

    Optional fields appear only when they apply: `html` (the text's formatting, sanitized; absent
    when the text is plain), `edited_at`, `deleted` + `deleted_at` (a tombstone: text empty, id
    kept), `file` (an upload), `reactions` ([{emoji, count, users}], in the order first used),
    `mentions` (the ids of the room's members it names as @name, ascending). `author`: the
    author's {display_name, avatar_url} (chat/messages/authors.py), added to `user`. `thread_id`
    (a reply: its thread's root), `thread` (a root with replies: {replies, last_reply_at, participants}).
    """
    payload = {
        "data": seed_text(sid, text),
        "id": message_id,
        "room": room_name,
        "sid": sid,
        "user": {"id": user_id, "name": author_name, **(author or {})},
        "text": text,
        "ts": iso(created_at),
    }
    if client_id is not None:
        payload["client_id"] = client_id
    if sid.startswith(BOT_SID_PREFIX):
        payload["bot"] = True  # posted by an incoming webhook (chat/tokens/hooks.py)
    if thread_id is not None:
        payload["thread_id"] = thread_id
    if thread:
        payload["thread"] = thread  # a deleted root keeps its thread
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
    if mentions:
        payload["mentions"] = sorted(mentions)
    return payload


def reactions_of(message_ids, connection=None):
    """{message id: [{"emoji", "count", "users"}]} for the given messages, emoji in first-use order.
    connection: where to read (default: the request's session)."""
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
    ids = [i for i in upload_ids if i is not None]
    if not ids:
        return {}
    table = Upload.__table__
    return {u.id: u for u in (connection or db.session).execute(select(table).where(table.c.id.in_(ids)))}


def mentions_of(message_ids, connection=None):
    """{message id: [user id, …]} of the given messages' mentions."""
    if not message_ids:
        return {}
    found = {}
    query = select(Mention.message_id, Mention.user_id).where(Mention.message_id.in_(message_ids))
    for message_id, user_id in (connection or db.session).execute(query):
        found.setdefault(message_id, []).append(user_id)
    return found


def stored_payloads(rows, room_name, connection=None):
    """Payloads of stored Message rows of one channel, with their uploads, reactions, mentions and
    authors' profiles (four queries at most, through `connection`, else the request's session;
    mentions only in a room: the global channel has none; authors mostly from a cache)."""
    uploads = uploads_of({m.upload_id for m in rows}, connection)
    authors = authors_of({m.user_id for m in rows}, connection)
    live = [m.id for m in rows if m.deleted_at is None]
    reactions = reactions_of(live, connection)
    # A mention is stored for an @name in the text (chat/messages/store.py; an edit recomputes
    # them): a page without "@" has none, and costs no query for them.
    mentioning = [m.id for m in rows if m.deleted_at is None and "@" in (m.text or "")]
    mentions = mentions_of(mentioning, connection) if room_name is not None else {}
    threads = summaries_of([m.id for m in rows], connection) if room_name is not None else {}
    return [
        message_payload(
            m,
            room_name,
            upload=uploads.get(m.upload_id),
            reactions=reactions.get(m.id),
            mentions=mentions.get(m.id),
            author=authors.get(m.user_id),
            thread=threads.get(m.id),
        )
        for m in rows
    ]
