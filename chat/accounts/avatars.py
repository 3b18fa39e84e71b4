"""Avatars: an uploaded picture made into a square PNG (Pillow, off the loop), stored under a
random token, served from /avatars/<token>.png with the uploads' safe headers.

The upload safety rules of chat/uploads/files.py apply: a size limit while reading, the type
decided from the content, a pixel limit read from the header before decoding (decompression
bombs), and a re-encode: only pixels Pillow produced are ever served, never the uploaded bytes.
"""

import logging
import secrets
from io import BytesIO

import filetype
from flask import Blueprint, current_app, jsonify, request, send_file
from flask_login import current_user
from PIL import Image, ImageOps
from werkzeug.exceptions import NotFound

from ..blocking import run_blocking
from ..errors import ChatError
from ..extensions import db
from ..models import User
from ..uploads.files import FILE_CSP, INLINE_IMAGES, TOKEN, remove_quietly, upload_folder, write_atomically
from .profiles import announce, http_user, own_profile

log = logging.getLogger("chat.avatars")
bp = Blueprint("avatars", __name__)

SNIFF_BYTES = 8192


def avatar_path(token):
    return upload_folder() / "avatars" / f"{token}.png"


def read_limited(stream, limit):
    """The whole upload, refused (413) as soon as it passes `limit` bytes."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ChatError("too_large", f"The picture is larger than {limit} bytes.")
    if not data:
        raise ChatError("empty_file", "The file is empty.")
    return data


def square_png(data, side, max_pixels):
    """The picture as a side×side PNG (cropped to its centre); ChatError for what is no picture."""
    kind = filetype.guess(data[:SNIFF_BYTES])
    mime = "image/png" if kind is not None and kind.mime == "image/apng" else (kind.mime if kind else None)
    if mime not in INLINE_IMAGES:
        raise ChatError("invalid_image", "An avatar must be a PNG, JPEG, GIF or WebP picture.")
    try:
        with Image.open(BytesIO(data)) as im:
            if im.format != INLINE_IMAGES[mime]:
                raise ChatError("invalid_image", "The picture could not be read.")
            if im.width * im.height > max_pixels:
                raise ChatError("too_large", f"The picture has more than {max_pixels} pixels.")
            im.verify()
        with Image.open(BytesIO(data)) as im:
            if mime == "image/jpeg":
                im.draft("RGB", (side * 2, side * 2))  # decode at a reduced scale
            picture = ImageOps.exif_transpose(im).convert("RGBA")
            picture = ImageOps.fit(picture, (side, side), Image.Resampling.LANCZOS)
            out = BytesIO()
            picture.save(out, "PNG", optimize=True)
            return out.getvalue()
    except ChatError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ChatError("too_large", f"The picture has more than {max_pixels} pixels.") from None
    except (OSError, SyntaxError, ValueError, TypeError, EOFError) as exc:
        log.info("unreadable avatar (%s): %s", mime, exc)
        raise ChatError("invalid_image", "The picture could not be read.") from None


def set_avatar(user, stream):
    """Replace the user's avatar with the uploaded picture; returns their public profile."""
    if user.is_guest:
        raise ChatError("forbidden", "Guests have no avatar; register to upload one.")
    cfg = current_app.config
    data = read_limited(stream, cfg["CHAT_MAX_AVATAR_SIZE"])
    png = run_blocking(square_png, data, cfg["CHAT_AVATAR_PIXELS"], cfg["CHAT_UPLOAD_MAX_PIXELS"])
    token = secrets.token_urlsafe(24)
    write_atomically(avatar_path(token), lambda out: out.write(png))
    return replace_avatar(user, token)


def replace_avatar(user, token):
    """Point the user at the new avatar (None: none), then remove the old file."""
    old = user.avatar
    user.avatar = token
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        if token is not None:
            remove_quietly(avatar_path(token))
        raise
    if old is not None:
        remove_quietly(avatar_path(old))
    log.info("avatar %s user=%s", "set" if token else "removed", user.id)
    announce(user)
    return own_profile(user)


@bp.post("/api/profile/avatar")
def upload_avatar_api():
    user = db.session.get(User, http_user().id)
    upload = request.files.get("file")
    if upload is None:
        raise ChatError("missing_field", "'file' is required.")
    return jsonify(ok=True, user=set_avatar(user, upload.stream))


@bp.delete("/api/profile/avatar")
def delete_avatar_api():
    user = db.session.get(User, http_user().id)
    return jsonify(ok=True, user=replace_avatar(user, None))


@bp.get("/avatars/<token>.png")
def avatar(token):
    """An avatar, for signed-in users and guests; the token is random and changes with each upload."""
    if not TOKEN.fullmatch(token) or not current_user.is_authenticated:
        raise NotFound()
    try:
        response = send_file(avatar_path(token), mimetype="image/png", conditional=True, etag=True, max_age=None)
    except FileNotFoundError:
        raise NotFound() from None
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = FILE_CSP
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    response.cache_control.private = True
    response.cache_control.max_age = 86400  # a new picture gets a new token
    return response
