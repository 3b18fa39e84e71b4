"""Uploads: files sent over HTTP, stored under random names, served only to those who may read them."""
import codecs
import logging
import mimetypes
import os
import re
import secrets
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import filetype
from flask import Blueprint, current_app, jsonify, request, send_file
from flask_login import current_user
from PIL import ExifTags, Image, ImageOps
from sqlalchemy import select
from werkzeug.exceptions import NotFound

from .blocking import run_blocking
from .errors import ChatError
from .extensions import csrf, db
from .models import Connection
from .presence import live_connections
from .ratelimit import check_user_rate
from .validation import without_refused

log = logging.getLogger("chat.uploads")
bp = Blueprint("uploads", __name__)

# Raster images shown inline (and thumbnailed), with the Pillow format their content must have.
INLINE_IMAGES = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}
TEXT = "text/plain"
BINARY = "application/octet-stream"
SNIFF_BYTES = 8192
CHUNK = 64 * 1024
MAX_NAME = 255
SAFE_SID = re.compile(r"[A-Za-z0-9_-]{1,64}")
NO_SID = "upload"  # the seed's data string when the upload names none of the uploader's sockets
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
# Uploaded files are served with this policy: nothing they contain runs, even when opened directly.
FILE_CSP = "default-src 'none'; sandbox"
# Control, format (bidi overrides that disguise an extension), separator and surrogate characters.
UNSAFE_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def file_info(upload):
    """What a message says about its upload."""
    segment = quote(upload.filename, safe="")
    if segment == "thumb":  # that URL is the thumbnail's; the name segment is only cosmetic
        segment = "thumb_"
    return {
        "id": upload.id,
        "name": upload.filename,
        "type": upload.content_type,
        "size": upload.size,
        "url": f"/uploads/{upload.token}/{segment}",
        "image": upload.content_type in INLINE_IMAGES,
        "width": upload.width,
        "height": upload.height,
        "thumb_url": f"/uploads/{upload.token}/thumb" if upload.has_thumbnail else None,
    }


def init_app(app):
    """Routes, and a request body limit that lets the largest upload (and its form) through."""
    app.register_blueprint(bp)
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = body_limit(app.config)


def body_limit(config):
    """Bytes in one request body: the largest file, plus the multipart framing and a caption."""
    return config["CHAT_MAX_UPLOAD_SIZE"] + 64 * 1024 + 4 * config["CHAT_MAX_MESSAGE_LENGTH"]


# ---- names and places ----

def display_name(raw):
    """The client's file name, made safe to show: no path, no control characters, no leading dots."""
    name = unicodedata.normalize("NFC", raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in UNSAFE_CATEGORIES)
    name = without_refused(name)  # and what no text field accepts (non-characters)
    name = name.strip().lstrip(".").strip()
    if len(name) > MAX_NAME:
        stem, ext = os.path.splitext(name)
        ext = ext if 1 < len(ext) <= 16 else ""
        name = stem[: MAX_NAME - len(ext)].rstrip() + ext
    return name or "file"


def upload_folder():
    return Path(current_app.config["CHAT_UPLOAD_FOLDER"])


def file_path(token):
    """Where a token's file lives: two-level fan-out, so no directory grows past a few thousand entries."""
    return upload_folder() / token[:2] / token


def thumb_path(token):
    return file_path(token).with_name(token + ".thumb")


def remove_quietly(*paths):
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError:
            log.warning("could not remove %s", path, exc_info=True)


def discard(upload):
    """Remove an upload's file and thumbnail from disk; serving answers 404 from then on.

    The database row is left to the caller (keep it or delete it): its token is never reused.
    """
    remove_quietly(file_path(upload.token), thumb_path(upload.token))


# ---- receiving ----

@dataclass(frozen=True, slots=True)
class UploadForm:
    """The multipart form of POST /api/uploads, validated."""

    file: object  # werkzeug FileStorage
    name: str
    room: str | None
    caption: str | None
    client_id: str | None
    sid: str

    @classmethod
    def parse(cls, form, files):
        from .validation import optional_client_id, room_name, text_field

        upload = files.get("file")
        if upload is None:
            raise ChatError("missing_field", "'file' is required.")
        data = {key: form[key] for key in ("room", "message", "client_id") if form.get(key)}
        room = room_name(data) if "room" in data else None
        caption = None
        if data.get("message", "").strip():
            caption = text_field(data, "message", current_app.config["CHAT_MAX_MESSAGE_LENGTH"])
        sid = form.get("sid", "")
        return cls(upload, display_name(upload.filename), room, caption, optional_client_id(data),
                   sid if SAFE_SID.fullmatch(sid) else "upload")


@dataclass(slots=True)
class StoredFile:
    token: str
    size: int
    content_type: str
    width: int | None = None
    height: int | None = None
    has_thumbnail: bool = False


def copy_limited(source, target, limit):
    """Copy a stream to a file; refuse (413) as soon as it passes `limit` bytes."""
    size = 0
    while chunk := source.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise ChatError("too_large", f"The file is larger than {limit} bytes.")
        target.write(chunk)
    return size


def write_atomically(final, fill):
    """Write a file through a temporary one in the same folder, then rename it into place."""
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=final.parent, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as out:
            result = fill(out)
        os.replace(temp, final)
    except BaseException:
        remove_quietly(temp)
        raise
    return result


def is_text(path):
    """UTF-8 without NUL bytes, all the way through."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            if b"\0" in chunk:
                return False
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                return False
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def sniff(path):
    """The content type, decided from the bytes: a known binary format, UTF-8 text, or octet-stream."""
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
    kind = filetype.guess(head)
    if kind is not None:
        return "image/png" if kind.mime == "image/apng" else kind.mime
    return TEXT if is_text(path) else BINARY


def claimed_type(name):
    """The type the name's extension claims, when it is one a disguise would use (raster image, PDF)."""
    claimed, _ = mimetypes.guess_type(name, strict=False)
    if claimed == "application/pdf" or (claimed or "").startswith("image/") and claimed != "image/svg+xml":
        return claimed
    return None


def check_claim(name, content_type):
    claimed = claimed_type(name)
    if claimed is None:
        return
    if claimed.startswith("image/") and content_type.startswith("image/") or claimed == content_type:
        return
    raise ChatError("type_mismatch",
                      f"The file is named like {claimed} but its content is {content_type}; it was not sent.")


def image_facts(path, content_type, thumb, max_side, max_pixels):
    """(width, height) as shown of an image whose content must match its type; writes its thumbnail.

    Raises ChatError when Pillow cannot read it, or when it has more pixels than allowed.
    """
    fmt = "JPEG" if content_type == "image/jpeg" else "PNG"
    try:
        with Image.open(path) as im:
            if im.format != INLINE_IMAGES[content_type]:
                raise ChatError("invalid_image", "The image could not be read.")
            if im.width * im.height > max_pixels:
                raise ChatError("too_large", f"The image has more than {max_pixels} pixels.")
            im.verify()
        with Image.open(path) as im:
            width, height = im.size
            if im.getexif().get(ExifTags.Base.Orientation, 1) in (5, 6, 7, 8):  # shown turned by 90°
                width, height = height, width
            if fmt == "JPEG":
                im.draft("RGB", (max_side, max_side))  # decode at a reduced scale: much faster
            small = ImageOps.exif_transpose(im)
            keep = ("RGB", "L") if fmt == "JPEG" else ("RGB", "RGBA", "L", "LA")
            if small.mode not in keep:
                small = small.convert("RGB" if fmt == "JPEG" else "RGBA")
            small.thumbnail((max_side, max_side))
            options = {"quality": 85} if fmt == "JPEG" else {"optimize": True}
            write_atomically(thumb, lambda out: small.save(out, fmt, **options))
            return width, height
    except ChatError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:  # from the header alone
        log.info("image refused (%s): %s", content_type, exc)
        raise ChatError("too_large", f"The image has more than {max_pixels} pixels.") from None
    except (OSError, SyntaxError, ValueError, TypeError, EOFError) as exc:
        log.info("unreadable image (%s): %s", content_type, exc)
        raise ChatError("invalid_image", "The image could not be read.") from None


def receive(form):
    """Store the form's file under a new token; returns a StoredFile (the caller owns the files)."""
    cfg = current_app.config
    token = secrets.token_urlsafe(24)
    final = file_path(token)
    size = write_atomically(final, lambda out: copy_limited(form.file.stream, out, cfg["CHAT_MAX_UPLOAD_SIZE"]))
    try:
        if size == 0:
            raise ChatError("empty_file", "The file is empty.")
        stored = StoredFile(token, size, sniff(final))
        check_claim(form.name, stored.content_type)
        if stored.content_type in INLINE_IMAGES:
            stored.width, stored.height = run_blocking(  # busy (503) when the pool is full
                image_facts, final, stored.content_type, thumb_path(token),
                cfg["CHAT_UPLOAD_THUMBNAIL_SIZE"], cfg["CHAT_UPLOAD_MAX_PIXELS"])
            stored.has_thumbnail = True
    except BaseException:
        remove_quietly(final, thumb_path(token))
        raise
    return stored


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
    from .history import store_and_send
    from .models import Upload
    from .rooms import ref_for

    sid = own_sid(form.sid, current_user.id)
    stored = receive(form)
    upload = Upload(
        token=stored.token, room_id=room.id if room is not None else None, uploader_id=current_user.id,
        filename=form.name, content_type=stored.content_type, size=stored.size, width=stored.width,
        height=stored.height, has_thumbnail=stored.has_thumbnail,
    )
    try:
        db.session.add(upload)  # store_and_send commits it with the message
        payload, created = store_and_send(
            current_user.public(), sid, ref_for(room) if room is not None else None,
            form.caption or form.name, form.client_id, "room_message" if room is not None else "message",
            upload=upload,
        )
    except BaseException:
        db.session.rollback()
        remove_quietly(file_path(stored.token), thumb_path(stored.token))
        raise
    if not created:  # a retry that raced the first one: keep the first file only
        remove_quietly(file_path(stored.token), thumb_path(stored.token))
    else:
        log.info("upload id=%s message=%s user=%s room=%s type=%s bytes=%d", upload.id, payload["id"],
                 current_user.id, room.id if room is not None else None, stored.content_type, stored.size)
    return payload, created


def writable_room(name, user_id):
    """The room an upload goes to (None: everyone): public, or private and the user is a member."""
    from .rooms import can_read, find_room

    if name is None:
        return None
    room = find_room(name)
    if room is None or not can_read(room, user_id):
        raise ChatError("not_found", f"No room called '{name}' that you can write to.")
    return room


def check_csrf():
    """Flask-WTF's check (X-CSRFToken header or csrf_token field), answered in JSON."""
    from flask_wtf.csrf import CSRFError

    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
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
    from .history import sent_before

    payload = sent_before(current_user.id, form.client_id)
    created = payload is None
    if created:
        payload, created = send_upload(form, room)
    reply = {"ok": True, "id": payload["id"], "message": payload}
    if not created:
        reply["duplicate"] = True  # a retry: the first upload's message, and its status
    return jsonify(reply), 201


# ---- serving ----

def readable_upload(token):
    """The upload behind a token, if this user may read its channel; NotFound otherwise."""
    from .models import Room, Upload
    from .rooms import can_read

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
        response = send_file(path, mimetype=content_type, as_attachment=not inline, download_name=download_name,
                             conditional=True, etag=True, max_age=None)
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
    return serve(thumb_path(upload.token), "image/jpeg" if jpeg else "image/png", True,
                 f"{stem}-thumb.{'jpg' if jpeg else 'png'}")


@bp.get("/uploads/<token>/<name>")
def download(token, name):
    """The file; `name` is only there for the browser (saving, the address bar)."""
    upload = readable_upload(token)
    return serve(file_path(upload.token), upload.content_type, upload.content_type in INLINE_IMAGES,
                 upload.filename)
