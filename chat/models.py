"""What the chat stores: users, rooms and messages."""

from datetime import UTC, datetime

from flask_login import UserMixin
from sqlalchemy import DateTime, ForeignKey, Index, String, Text, TypeDecorator
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import false, true

from .extensions import db


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every database (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def utc_now():
    return datetime.now(UTC)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32))
    # Names are unique by their key (chat/names.py): "Taro", "taro" and "Ｔａｒｏ" are one user.
    name_key: Mapped[str] = mapped_column(String(32), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_guest: Mapped[bool] = mapped_column(default=False)
    # An admin may delete anyone's message (`flask --app wsgi chat admin NAME`).
    is_admin: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    # Sessions carry the generation they were issued in; logout (users.end_sessions) counts it
    # up, so every cookie issued before stops working, on every node.
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")
    # Profile (chat/accounts/profiles.py): a display name by the rule for names, unique by its key
    # among display and login names; an avatar (its file's token); a status that may expire.
    display_name: Mapped[str | None] = mapped_column(String(32))
    display_name_key: Mapped[str | None] = mapped_column(String(32), unique=True, index=True)
    avatar: Mapped[str | None] = mapped_column(String(64))
    status_text: Mapped[str | None] = mapped_column(Text)
    status_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    time_zone: Mapped[str | None] = mapped_column(String(64))
    # Optional, for password resets; unique by its normalised key (chat/accounts/passwords.py).
    email: Mapped[str | None] = mapped_column(String(254))
    email_key: Mapped[str | None] = mapped_column(String(254), unique=True, index=True)

    def current_status(self, now=None):
        """The status text, or None when there is none or it has expired."""
        if not self.status_text:
            return None
        if self.status_expires_at is not None and self.status_expires_at <= (now or utc_now()):
            return None
        return self.status_text

    # Administration (chat/admin): a deactivated user gets no session, token or socket; a muted
    # one may read but not write until muted_until.
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    muted_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # DM read receipts (chat/notify): off, the user neither sends nor sees "seen".
    read_receipts: Mapped[bool] = mapped_column(default=True, server_default=true())

    @property
    def is_active(self):
        """Flask-Login's flag (login_user refuses an inactive user): False once deactivated."""
        return self.deactivated_at is None

    def public(self):
        return {
            "id": self.id,
            "name": self.name,
            "guest": self.is_guest,
            "display_name": self.display_name,
            "avatar_url": f"/avatars/{self.avatar}.png" if self.avatar else None,
            "status": self.current_status(),
        }


class Room(db.Model):
    """A chat room, or a direct conversation between two users (kind "dm")."""

    __tablename__ = "rooms"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # One room per key (chat/names.py): "General", "general" and "ｇｅｎｅｒａｌ" are one room.
    name_key: Mapped[str] = mapped_column(String(100), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    topic: Mapped[str] = mapped_column(String(500), default="", server_default="")
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    is_private: Mapped[bool] = mapped_column(default=False, server_default=false())
    kind: Mapped[str] = mapped_column(String(8), default="room", server_default="room")
    # Messages older than this many days are pruned (chat/retention/); None: the global setting.
    retention_days: Mapped[int | None] = mapped_column()
    # Archived (chat/admin): readable, but nothing is written to it any more.
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def private(self):
        """Readable by members only (as RoomRef.private): a private room, or a direct conversation."""
        return self.is_private or self.kind == "dm"


class RoomMember(db.Model):
    """A user's membership of a room, with how far they have read."""

    __tablename__ = "room_members"

    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    last_read_id: Mapped[int] = mapped_column(default=0, server_default="0")


class Mention(db.Model):
    """An @name in a message, for highlighting and counting apart."""

    __tablename__ = "mentions"

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))

    __table_args__ = (Index("ix_mentions_user_room", "user_id", "room_id", "message_id"),)


class Node(db.Model):
    """A server process; its connections count as online while its heartbeat is fresh."""

    __tablename__ = "nodes"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)


class Connection(db.Model):
    """One socket of a signed-in user, on one node: presence survives nothing but its node."""

    __tablename__ = "connections"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    node_id: Mapped[str] = mapped_column(String(40), index=True)
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    last_active: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)


class Upload(db.Model):
    """A file sent to a room (or to everyone, room_id NULL); its message carries it."""

    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Random, URL-safe: the file's name on disk and in its URL. The user's name is only shown.
    token: Mapped[str] = mapped_column(String(64), unique=True)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    uploader_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))
    # Decided from the content, never from the name.
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    width: Mapped[int | None]
    height: Mapped[int | None]
    has_thumbnail: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)


class Message(db.Model):
    """One accepted message; room_id NULL is the global channel (`send_message`)."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    author_name: Mapped[str] = mapped_column(String(64))
    sender_sid: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    # "<user id or anon>:<client_id>": a retried send with the same client_id is stored once.
    dedupe_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    # Edited: the text is the latest version. Deleted: a tombstone (text emptied, id kept).
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    upload_id: Mapped[int | None] = mapped_column(ForeignKey("uploads.id", ondelete="SET NULL"))
    # A reply in a thread (chat/threads): the root message's id, in the same room.
    thread_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))

    room = relationship(Room, lazy="raise")

    # created_at: retention prunes by age (chat/retention/); thread_id: a thread's page of replies.
    __table_args__ = (
        Index("ix_messages_room_id_id", "room_id", "id"),
        Index("ix_messages_created_at", "created_at"),
        Index("ix_messages_thread_id_id", "thread_id", "id"),
    )


class Reaction(db.Model):
    """One user's emoji on one message (toggled)."""

    __tablename__ = "reactions"

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    emoji: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
