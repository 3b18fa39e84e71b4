"""The administration's tables: the audit log, reports of messages, room moderators."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..models import UTCDateTime, utc_now


class AuditLog(db.Model):
    """One admin or moderator action: who, what, on what, when, with its details."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    # The actor's name is kept too: the row outlives the account (NULL: the command line).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    actor_name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    target_type: Mapped[str] = mapped_column(String(20))
    target_id: Mapped[int | None]
    target_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    details: Mapped[dict] = mapped_column(JSON, default=dict)


class Report(db.Model):
    """A member's report of a message, open until an admin resolves it."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # "open" while unresolved: one open report per (reporter, message), enforced by the database.
    open_key: Mapped[str | None] = mapped_column(String(40))

    __table_args__ = (Index("ix_reports_open_key", "open_key", unique=True),)


class RoomModerator(db.Model):
    """A user who may moderate one room besides its creator: remove members, set the topic,
    delete messages."""

    __tablename__ = "room_moderators"

    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
