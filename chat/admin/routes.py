"""The /admin page (server-rendered, CSRF forms) and its JSON twin under /api/admin; admins only."""

import logging
from http import HTTPStatus

from flask import Blueprint, flash, jsonify, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from ..errors import ChatError
from ..extensions import db
from ..i18n import page_language, strings
from ..models import Room, User
from ..ratelimit import check_user_rate
from ..rooms.manage import target_user
from ..validation import payload_object
from . import actions
from .listing import audit_page, page_number, reports_queue, rooms_matching, search_text, users_matching
from .models import Report
from .policy import is_admin
from .texts import ADMIN_STRINGS

log = logging.getLogger("chat.admin")
bp = Blueprint("admin", __name__)


def flag(fields, name):
    value = fields.get(name, False)
    if isinstance(value, str):
        return value.lower() in ("1", "true", "on", "yes")
    if not isinstance(value, bool):
        raise ChatError("invalid_type", f"'{name}' must be true or false.")
    return value


# (kind, action) -> what it does, given the acting admin, the target and the request's fields.
ACTIONS = {
    ("users", "grant_admin"): lambda actor, user, f: actions.do_set_admin(actor, user, True),
    ("users", "revoke_admin"): lambda actor, user, f: actions.do_set_admin(actor, user, False),
    ("users", "deactivate"): lambda actor, user, f: actions.do_deactivate(actor, user),
    ("users", "reactivate"): lambda actor, user, f: actions.do_reactivate(actor, user),
    ("users", "mute"): lambda actor, user, f: actions.do_mute(actor, user, f.get("minutes")),
    ("users", "unmute"): lambda actor, user, f: actions.do_unmute(actor, user),
    ("rooms", "archive"): lambda actor, room, f: actions.do_archive(actor, room, True),
    ("rooms", "unarchive"): lambda actor, room, f: actions.do_archive(actor, room, False),
    ("rooms", "delete"): lambda actor, room, f: actions.do_delete_room(actor, room),
    ("rooms", "transfer"): lambda actor, room, f: actions.do_transfer(actor, room, target_user(f)),
    ("rooms", "add_moderator"): lambda actor, room, f: actions.do_set_moderator(actor, room, target_user(f), True),
    ("rooms", "remove_moderator"): lambda actor, room, f: actions.do_set_moderator(actor, room, target_user(f), False),
    ("reports", "resolve"): lambda actor, report, f: actions.do_resolve_report(actor, report, flag(f, "delete")),
    ("reports", "delete_message"): lambda actor, report, f: actions.do_resolve_report(actor, report, True),
}
TARGETS = {"users": (User, "unknown_user"), "rooms": (Room, "unknown_room"), "reports": (Report, "not_found")}


def is_current_admin():
    return current_user.is_authenticated and current_user.is_active and is_admin(current_user.id)


def require_admin_api():
    if not is_current_admin():
        raise ChatError("forbidden", "Only an admin can do this.")


def perform(kind, target_id, action, fields):
    """Run one admin action on the target `kind`/`target_id` for the signed-in admin."""
    handler = ACTIONS.get((kind, action))
    if handler is None:
        raise ChatError("not_found", f"No admin action '{kind}/{action}'.")
    check_user_rate(current_user.id)
    model, missing = TARGETS[kind]
    target = db.session.get(model, target_id) if 0 < target_id < 2**31 else None
    if target is None or (kind == "rooms" and target.kind != "room"):
        raise ChatError(missing, f"No {kind[:-1]} {target_id}.")
    actor = db.session.get(User, current_user.id)
    handler(actor, target, fields)
    log.info("admin action %s/%s on %s by user=%s", kind, action, target_id, actor.id)


# ---- the page ----


def texts():
    lang = page_language()[0]
    return lang, strings(lang) | ADMIN_STRINGS[lang]


def forbidden_page():
    """The page's refusal is a page (HTML, 403); /api/admin refuses in JSON through chat/errors.py."""
    lang, t = texts()
    return make_response(render_template("admin_forbidden.html", lang=lang, t=t), HTTPStatus.FORBIDDEN)


@bp.get("/admin")
def admin_page():
    if not is_current_admin():
        return forbidden_page()
    lang, t = texts()
    try:
        q, rq = request.args.get("q", ""), request.args.get("rq", "")
        users, rooms = users_matching(search_text(q)), rooms_matching(search_text(rq))
        page = page_number(request.args.get("page"))
    except ChatError as exc:
        flash(exc.message)
        return redirect(url_for("admin.admin_page"))
    audit, more = audit_page(page)
    return render_template(
        "admin.html",
        lang=lang,
        t=t,
        q=q,
        rq=rq,
        users=users,
        rooms=rooms,
        reports=reports_queue(),
        audit=audit,
        page=page,
        more=more,
        me=current_user.id,
    )


@bp.post("/admin/<kind>/<int:target_id>/<action>")
def admin_form(kind, target_id, action):
    """A form of the page (CSRF checked by Flask-WTF before this runs): do it, then back to the page."""
    if not is_current_admin():
        return forbidden_page()
    try:
        perform(kind, target_id, action, request.form.to_dict())
        flash(ADMIN_STRINGS[page_language()[0]]["done"])
    except ChatError as exc:
        db.session.rollback()
        flash(exc.message)
    back = {key: request.form[key] for key in ("q", "rq") if request.form.get(key)}
    return redirect(url_for("admin.admin_page", **back), 303)


# ---- the JSON API ----


@bp.get("/api/admin/users")
def users_api():
    require_admin_api()
    return jsonify(users=users_matching(search_text(request.args.get("q"))))


@bp.get("/api/admin/rooms")
def rooms_api():
    require_admin_api()
    return jsonify(rooms=rooms_matching(search_text(request.args.get("q"))))


@bp.get("/api/admin/reports")
def reports_api():
    require_admin_api()
    return jsonify(reports=reports_queue())


@bp.get("/api/admin/audit")
def audit_api():
    require_admin_api()
    page = page_number(request.args.get("page"))
    rows, more = audit_page(page)
    return jsonify(audit=rows, page=page, has_more=more)


@bp.post("/api/admin/<kind>/<int:target_id>/<action>")
def action_api(kind, target_id, action):
    require_admin_api()
    fields = payload_object(request.get_json(silent=True) if request.content_length else {})
    try:
        perform(kind, target_id, action, fields)
    except ChatError:
        db.session.rollback()
        raise
    return jsonify(ok=True, kind=kind, id=target_id, action=action)
