"""The push subscriptions' table: one row per browser (its push service endpoint) and user."""

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..models import UTCDateTime, utc_now


class PushSubscription(db.Model):
    """A browser's Web Push subscription: where to POST (endpoint) and its keys (RFC 8291)."""

    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # One browser, one subscription: a browser that another user signs in to moves to that user.
    endpoint: Mapped[str] = mapped_column(String(2048), unique=True)
    p256dh: Mapped[str] = mapped_column(String(100))  # the browser's P-256 public key, base64url
    auth: Mapped[str] = mapped_column(String(40))  # its 16-byte auth secret, base64url
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
