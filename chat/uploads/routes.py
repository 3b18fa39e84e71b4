"""Uploads over HTTP: POST /api/uploads (the file and its message), and serving files to those who may read them."""

import logging
import os

from flask import Blueprint, current_app, g, jsonify, request, send_file
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import select
from werkzeug.exceptions import NotFound

from ..admin.policy import refuse_write
from ..errors import ChatError
from ..extensions import csrf, db
from ..messages.store import sent_before, store_and_send
from ..models import Connection, Room, Upload
from ..presence.online import live_connections
from ..ratelimit import check_user_rate
from ..rooms.access import can_read, find_room, ref_for
from .files import FILE_CSP, INLINE_IMAGES, NO_SID, TOKEN, UploadForm, file_path, receive, remove_quietly, thumb_path

log = logging.getLogger("chat.uploads")


bp = Blueprint("uploads", __name__)


def init_app(app):
    """Routes, and a request body limit that lets the largest upload (and its form) through."""
    app.register_blueprint(bp)
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = body_limit(app.config)


def body_limit(config):
    """Bytes in one request body: the largest file, plus the multipart framing and a caption."""
    return config["CHAT_MAX_UPLOAD_SIZE"] + 64 * 1024 + 4 * config["CHAT_MAX_MESSAGE_LENGTH"]


def own_sid(sid, user_id):
    """The sid the message names: one of the uploader's own live sockets, else NO_SID.

    Never refused: the page sends its socket.id, which may have just closed (a reconnect racing
    the upload), and losing a file over the seed's data string would serve nobody.
    """
    if sid == NO_SID:
        return sid
    mine = live_connections().where(Connection.sid == sid, Connection.user_id == user_id)
    if db.session.execute(mine.limit(1)).first() is not None:
        return sid
    log.info("upload user=%s named sid=%s, not one of its live sockets", user_id, sid)
    return NO_SID


def send_upload(form, room):
    """Store the file and its message together, then send the message; (payload, created)."""
    refuse_write(current_user.id, room.id if room is not None else None)  # before the file is read
    sid = own_sid(form.sid, current_user.id)
    stored = receive(form)
    upload = Upload(
        token=stored.token,
        room_id=room.id if room is not None else None,
        uploader_id=current_user.id,
        filename=form.name,
        content_type=stored.content_type,
        size=stored.size,
        width=stored.width,
        height=stored.height,
        has_thumbnail=stored.has_thumbnail,
    )
    try:
        db.session.add(upload)  # store_and_send commits it with the message
        payload, created = store_and_send(
            current_user.public(),
            sid,
            ref_for(room) if room is not None else None,
            form.caption or form.name,
            form.client_id,
            "room_message" if room is not None else "message",
            upload=upload,
        )
    except BaseException:
        db.session.rollback()
        remove_quietly(file_path(stored.token), thumb_path(stored.token))
        raise
    if not created:  # a retry that raced the first one: keep the first file only
        remove_quietly(file_path(stored.token), thumb_path(stored.token))
    else:
        log.info(
            "upload id=%s message=%s user=%s room=%s type=%s bytes=%d",
            upload.id,
            payload["id"],
            current_user.id,
            room.id if room is not None else None,
            stored.content_type,
            stored.size,
        )
    return payload, created


def writable_room(name, user_id):
    """The room an upload goes to (None: everyone): public, or private and the user is a member."""
    if name is None:
        return None
    room = find_room(name)
    if room is None or not can_read(room, user_id):
        raise ChatError("not_found", f"No room called '{name}' that you can write to.")
    return room


def check_csrf():
    """Flask-WTF's check (X-CSRFToken header or csrf_token field), answered in JSON."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True) or g.get("api_token") is not None:
        return  # off, or an API token's request (chat/tokens/auth.py): no cookie to forge
    try:
        csrf.protect()
    except CSRFError as exc:
        raise ChatError("invalid_csrf", exc.description) from None


@bp.post("/api/uploads")
@csrf.exempt  # checked in the view, after authentication, so that every refusal is JSON
def upload_api():
    if not current_user.is_authenticated:
        raise ChatError("unauthorized", "Sign in (or pick a guest name) first.")
    check_user_rate(current_user.id)
    check_csrf()
    form = UploadForm.parse(request.form, request.files)  # its fields validated like a socket message's
    room = writable_room(form.room, current_user.id)
    payload = sent_before(current_user.id, form.client_id)
    created = payload is None
    if created:
        payload, created = send_upload(form, room)
    reply = {"ok": True, "id": payload["id"], "message": payload}
    if not created:
        reply["duplicate"] = True  # a retry: the first upload's message, and its status
    return jsonify(reply), 201


def readable_upload(token):
    """The upload behind a token, if this user may read its channel; NotFound otherwise."""
    if not TOKEN.fullmatch(token) or not current_user.is_authenticated:  # signed-in users and guests
        raise NotFound()
    upload = db.session.execute(select(Upload).filter_by(token=token)).scalar_one_or_none()
    if upload is None:
        raise NotFound()
    if upload.room_id is not None:
        room = db.session.get(Room, upload.room_id)
        if room is None or not can_read(room, current_user.id):
            raise NotFound()
    return upload


def serve(path, content_type, inline, download_name):
    try:
        response = send_file(
            path,
            mimetype=content_type,
            as_attachment=not inline,
            download_name=download_name,
            conditional=True,
            etag=True,
            max_age=None,
        )
    except FileNotFoundError:  # discarded (its message was deleted)
        raise NotFound() from None
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = FILE_CSP
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    # Access is checked on every request: browsers may keep a copy, but ask again (ETag) each time.
    response.cache_control.public = False
    response.cache_control.private = True
    response.cache_control.no_cache = True
    return response


@bp.get("/uploads/<token>/thumb")
def thumbnail(token):
    upload = readable_upload(token)
    if not upload.has_thumbnail:
        raise NotFound()
    jpeg = upload.content_type == "image/jpeg"
    stem = os.path.splitext(upload.filename)[0] or "file"
    return serve(
        thumb_path(upload.token),
        "image/jpeg" if jpeg else "image/png",
        True,
        f"{stem}-thumb.{'jpg' if jpeg else 'png'}",
    )


@bp.get("/uploads/<token>/<name>")
def download(token, name):
    """The file; `name` is only there for the browser (saving, the address bar)."""
    upload = readable_upload(token)
    return serve(file_path(upload.token), upload.content_type, upload.content_type in INLINE_IMAGES, upload.filename)
