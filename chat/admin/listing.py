"""What /admin and /api/admin show: users and rooms by name, the reports queue, the audit log (paged)."""

from flask import current_app
from sqlalchemy import func, select

from ..errors import ChatError
from ..extensions import db
from ..models import Message, Room, RoomMember, User, utc_now
from ..names import name_key
from ..validation import check_text
from .actions import moderators_of
from .models import AuditLog
from .reports import open_reports

SEARCH_LIMIT = 100  # characters in a search of names


def search_text(value):
    """A search of names: text by the text rule; "" lists everything."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ChatError("invalid_type", "'q' must be a string.")
    check_text(value, "q")
    if len(value) > SEARCH_LIMIT:
        raise ChatError("too_long", f"'q' must be at most {SEARCH_LIMIT} characters.")
    return name_key(value)


def page_number(value):
    """A page of the audit log, from 1."""
    if value in (None, ""):
        return 1
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() or len(value) > 9:
        raise ChatError("invalid_type", "'page' must be a whole number from 1.")
    number = int(value)
    if number < 1:
        raise ChatError("out_of_range", "'page' must be a whole number from 1.")
    return number


def iso(value):
    return value.isoformat() if value is not None else None


def user_row(user, now):
    muted = user.muted_until if user.muted_until is not None and user.muted_until > now else None
    return {
        "id": user.id,
        "name": user.name,
        "guest": user.is_guest,
        "admin": user.is_admin,
        "deactivated_at": iso(user.deactivated_at),
        "muted_until": iso(muted),
        "created_at": iso(user.created_at),
    }


def users_matching(key):
    limit = current_app.config["CHAT_ADMIN_PAGE_SIZE"]
    query = select(User).order_by(User.name_key).limit(limit)
    if key:
        query = query.where(User.name_key.contains(key, autoescape=True))
    now = utc_now()
    return [user_row(user, now) for user in db.session.execute(query).scalars()]


def rooms_matching(key):
    limit = current_app.config["CHAT_ADMIN_PAGE_SIZE"]
    members = select(func.count()).where(RoomMember.room_id == Room.id).scalar_subquery()
    query = (
        select(Room, User.name, members)
        .outerjoin(User, User.id == Room.creator_id)
        .where(Room.kind == "room")
        .order_by(Room.name_key)
        .limit(limit)
    )
    if key:
        query = query.where(Room.name_key.contains(key, autoescape=True))
    rows = db.session.execute(query).all()
    moderators = moderators_of([room.id for room, _, _ in rows])
    return [
        {
            "id": room.id,
            "name": room.name,
            "topic": room.topic,
            "private": room.is_private,
            "creator": creator,
            "members": count,
            "archived_at": iso(room.archived_at),
            "moderators": moderators.get(room.id, []),
        }
        for room, creator, count in rows
    ]


def reports_queue():
    reporters = {}
    rows = open_reports(current_app.config["CHAT_ADMIN_PAGE_SIZE"])
    ids = {report.reporter_id for report, _, _ in rows}
    if ids:
        reporters = dict(db.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())
    return [
        {
            "id": report.id,
            "reason": report.reason,
            "created_at": iso(report.created_at),
            "reporter": reporters.get(report.reporter_id, ""),
            "message": message_row(message, room_name),
        }
        for report, message, room_name in rows
    ]


def message_row(message: Message, room_name):
    return {"id": message.id, "room": room_name, "author": message.author_name, "text": message.text}


def audit_page(page):
    """(rows, has_more): the audit log, newest first."""
    size = current_app.config["CHAT_ADMIN_PAGE_SIZE"]
    query = select(AuditLog).order_by(AuditLog.id.desc()).offset((page - 1) * size).limit(size + 1)
    rows = db.session.execute(query).scalars().all()
    return [
        {
            "id": row.id,
            "at": iso(row.created_at),
            "actor": row.actor_name,
            "actor_id": row.actor_id,
            "action": row.action,
            "target_type": row.target_type,
            "target_id": row.target_id,
            "target": row.target_name,
            "details": row.details,
        }
        for row in rows[:size]
    ], len(rows) > size
