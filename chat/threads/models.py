"""What threads store besides messages.thread_id: who follows which thread, and how far they have read."""

from sqlalchemy import ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import true

from ..extensions import db


class ThreadFollow(db.Model):
    """One user's state of one thread (its root message): following or not, and the read mark.

    A row with following False keeps the read mark of a thread the user stopped following (or
    read without following); list_threads shows followed threads only.
    """

    __tablename__ = "thread_follows"

    thread_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    following: Mapped[bool] = mapped_column(default=True, server_default=true())
    last_read_id: Mapped[int] = mapped_column(default=0, server_default="0")

    __table_args__ = (Index("ix_thread_follows_user_id", "user_id", "following"),)
