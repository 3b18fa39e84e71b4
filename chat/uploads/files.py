"""Uploads: receiving a file, checking its content and type, thumbnails, where files live on disk."""

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
from flask import current_app
from PIL import ExifTags, Image, ImageOps

from ..blocking import run_blocking
from ..errors import ChatError
from ..validation import optional_client_id, room_name, text_field, without_refused

log = logging.getLogger("chat.uploads")

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
        upload = files.get("file")
        if upload is None:
            raise ChatError("missing_field", "'file' is required.")
        data = {key: form[key] for key in ("room", "message", "client_id") if form.get(key)}
        room = room_name(data) if "room" in data else None
        caption = None
        if data.get("message", "").strip():
            caption = text_field(data, "message", current_app.config["CHAT_MAX_MESSAGE_LENGTH"])
        sid = form.get("sid", "")
        return cls(
            upload,
            display_name(upload.filename),
            room,
            caption,
            optional_client_id(data),
            sid if SAFE_SID.fullmatch(sid) else "upload",
        )


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
    raise ChatError(
        "type_mismatch", f"The file is named like {claimed} but its content is {content_type}; it was not sent."
    )


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
                image_facts,
                final,
                stored.content_type,
                thumb_path(token),
                cfg["CHAT_UPLOAD_THUMBNAIL_SIZE"],
                cfg["CHAT_UPLOAD_MAX_PIXELS"],
            )
            stored.has_thumbnail = True
    except BaseException:
        remove_quietly(final, thumb_path(token))
        raise
    return stored


# ---- serving ----
