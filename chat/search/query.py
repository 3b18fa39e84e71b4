"""Searching messages one may read: the global channel, public rooms, one's private rooms and DMs.

SQLite: the FTS5 trigram index (chat/search/schema.py) for queries of 3 characters or more, a
LIKE scan for shorter ones (a trigram index cannot answer them). PostgreSQL: word search over
the GIN index on to_tsvector('simple', text), and ILIKE when the query is CJK (no spaces between
words, so 'simple' sees one long word) or the word search finds nothing (part of a word).
"""

import re

from sqlalchemy import and_, false, or_, select, text

from ..extensions import db
from ..messages.payloads import stored_payloads
from ..models import Message, Room, RoomMember

DEFAULT_LIMIT = 20
MAX_LIMIT = 50
TRIGRAM = 3  # characters in an FTS5 trigram: shorter queries cannot use the index
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\uff66-\uff9f]")


def readable_by(user_id):
    """SQL condition: the message is in a channel the user can read (Room outer-joined)."""
    public = and_(Room.is_private.is_(False), Room.kind == "room")
    member = (
        Message.room_id.in_(select(RoomMember.room_id).where(RoomMember.user_id == user_id))
        if user_id is not None
        else false()
    )
    return or_(Message.room_id.is_(None), public, member)


def like_pattern(q):
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def matching(q, dialect):
    """SQL conditions for 'the text contains q', best first (the next one when one finds nothing)."""
    if dialect == "sqlite":
        if len(q) >= TRIGRAM:
            phrase = '"' + q.replace('"', '""') + '"'  # one phrase: FTS5 operators are text here
            return [
                text("messages.id IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH :q)").bindparams(q=phrase)
            ]
        return [Message.text.like(like_pattern(q), escape="\\")]
    if dialect == "postgresql":
        ilike = Message.text.ilike(like_pattern(q), escape="\\")
        if CJK.search(q):
            return [ilike]
        # Literally the indexed expression, so the planner uses ix_messages_text_search.
        words = text("to_tsvector('simple', messages.text) @@ plainto_tsquery('simple', :q)").bindparams(q=q)
        return [words, ilike]
    return [Message.text.ilike(like_pattern(q), escape="\\")]


def search_messages(user_id, q, room_id=None, limit=DEFAULT_LIMIT):
    """Payloads of readable, not deleted messages containing q, newest first."""
    base = (
        select(Message)
        .outerjoin(Room, Room.id == Message.room_id)
        .where(Message.deleted_at.is_(None), readable_by(user_id))
    )
    if room_id is not None:
        base = base.where(Message.room_id == room_id)
    rows = []
    for condition in matching(q, db.session.get_bind().dialect.name):
        rows = db.session.execute(base.where(condition).order_by(Message.id.desc()).limit(limit)).scalars().all()
        if rows:
            break
    return payloads_newest_first(rows)


def payloads_newest_first(rows):
    """Payloads with their room's name: one batch per room, then back in the rows' order."""
    room_ids = {m.room_id for m in rows if m.room_id is not None}
    names = dict(db.session.execute(select(Room.id, Room.name).where(Room.id.in_(room_ids))).all()) if room_ids else {}
    by_room = {}
    for m in rows:
        by_room.setdefault(m.room_id, []).append(m)
    payload_by_id = {}
    for room_id, messages in by_room.items():
        for payload in stored_payloads(messages, names.get(room_id)):
            payload_by_id[payload["id"]] = payload
    return [payload_by_id[m.id] for m in rows]
