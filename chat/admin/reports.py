"""Reporting a message: socket `report_message` and `POST /api/messages/<id>/report`, for those who
can read the message; one open report per reporter and message. Admins work the queue on /admin."""

import logging
from dataclasses import dataclass

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..errors import ChatError
from ..extensions import db, socketio
from ..messages.edits import http_user_id
from ..messages.history import largest_id
from ..models import Message, Room, utc_now
from ..ratelimit import rate_limited
from ..rooms.access import can_read, identity
from ..validation import check_text, optional_id, payload_object
from .models import Report

log = logging.getLogger("chat.admin")
bp = Blueprint("reports", __name__)


def reason_text(data):
    """The report's reason: text by the text rule, 1..CHAT_MAX_REPORT_LENGTH characters."""
    if "reason" not in data:
        raise ChatError("missing_field", "'reason' is required.")
    reason = data["reason"]
    if not isinstance(reason, str):
        raise ChatError("invalid_type", "'reason' must be a string.")
    check_text(reason, "reason")
    if not reason.strip():
        raise ChatError("empty_field", "'reason' must not be empty.")
    limit = current_app.config["CHAT_MAX_REPORT_LENGTH"]
    if len(reason) > limit:
        raise ChatError("too_long", f"'reason' must be at most {limit} characters.")
    return reason


@dataclass(frozen=True, slots=True)
class ReportRequest:
    id: int
    reason: str

    @classmethod
    def parse(cls, data, message_id=None):
        data = payload_object(data)
        if message_id is None:
            message_id = optional_id(data, "id")
            if message_id is None:
                raise ChatError("missing_field", "'id' is required.")
        return cls(message_id, reason_text(data))


def unknown_message(message_id):
    # The same answer for "no such message" and "one you cannot read": never reveal which.
    return ChatError("unknown_message", f"No message {message_id} that you can read.")


def reportable_message(message_id, user_id):
    """The message, if it exists, is not deleted and `user_id` can read it."""
    if not 0 < message_id <= largest_id():
        raise unknown_message(message_id)
    message = db.session.get(Message, message_id)
    if message is None or message.deleted_at is not None:
        raise unknown_message(message_id)
    if message.room_id is not None:
        room = db.session.get(Room, message.room_id)
        if room is None or not can_read(room, user_id):
            raise unknown_message(message_id)
    return message


def do_report(user_id, message_id, reason):
    """File a report; report_exists when this user's report of this message is still open."""
    if user_id is None:
        raise ChatError("forbidden", "Sign in (or pick a guest name) first.")
    message = reportable_message(message_id, user_id)
    report = Report(
        message_id=message.id,
        reporter_id=user_id,
        reason=reason,
        created_at=utc_now(),
        open_key=f"{user_id}:{message.id}",
    )
    db.session.add(report)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ChatError("report_exists", "You have reported this message already; an admin will look at it.") from None
    log.info("report=%s message=%s by user=%s", report.id, message.id, user_id)
    return report.id


def open_reports(limit):
    """The open reports, oldest first, with their messages (the queue on /admin)."""
    query = (
        select(Report, Message, Room.name)
        .join(Message, Message.id == Report.message_id)
        .outerjoin(Room, Room.id == Message.room_id)
        .where(Report.resolved_at.is_(None))
        .order_by(Report.id)
        .limit(limit)
    )
    return db.session.execute(query).all()


@socketio.on("report_message")
@rate_limited
def report_message_event(data=None, *_):
    req = ReportRequest.parse(data)
    return {"ok": True, "id": req.id, "report": do_report(identity()["id"], req.id, req.reason)}


@bp.post("/api/messages/<int:message_id>/report")
def report_message_api(message_id):
    user_id = http_user_id()
    req = ReportRequest.parse(request.get_json(silent=True), message_id)
    return jsonify(ok=True, id=req.id, report=do_report(user_id, req.id, req.reason)), 201
