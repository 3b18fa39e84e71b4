"""Uploads: POST /api/uploads stores a file and its message; /uploads/<token>/... serves it to readers only."""

import os
import re
import struct
import unicodedata
import zlib
from io import BytesIO
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
import requests
from PIL import Image
from sqlalchemy import func, select

from chat.extensions import db, socketio
from chat.models import Message, Upload
from chat.uploads.files import discard, display_name
from tests import servers
from tests.accounts import guest, register
from tests.live_client import LiveClient

TOKEN_NAME = re.compile(r"[A-Za-z0-9_-]{32}(\.thumb)?")


@pytest.fixture
def folder(tmp_path):
    return tmp_path / "uploads"


@pytest.fixture
def app(make_app, folder):
    return make_app(CHAT_UPLOAD_FOLDER=str(folder))


def png(width=800, height=600, color=(200, 30, 30)):
    out = BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def jpeg(width, height, orientation=None):
    out = BytesIO()
    image = Image.new("RGB", (width, height), (10, 120, 200))
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def csrf_token(client):
    page = client.get("/").get_data(as_text=True)
    return page.split('name="csrf_token" value="')[1].split('"')[0]


class Person:
    """A signed-in browser: its Flask test client, its CSRF token, and a socket sharing its session."""

    def __init__(self, app, name, as_guest=False):
        self.client = app.test_client()
        (guest if as_guest else register)(self.client, name)
        self.token = csrf_token(self.client)
        self.socket = socketio.test_client(app, flask_test_client=self.client)

    def upload(self, content, filename, **fields):
        return self.client.post(
            "/api/uploads",
            data={"file": (BytesIO(content), filename), **fields},
            headers={"X-CSRFToken": self.token},
            content_type="multipart/form-data",
        )

    def raw_upload(self, body, boundary="XyZzY", **environ):
        return self.client.post(
            "/api/uploads",
            data=body,
            content_type=f"multipart/form-data; boundary={boundary}",
            headers={"X-CSRFToken": self.token},
            environ_overrides=environ,
        )

    @property
    def sid(self):
        """The Socket.IO id of this person's socket (the page's socket.id)."""
        return socketio.server.manager.sid_from_eio_sid(self.socket.eio_sid, "/")

    def received(self, event):
        # The test client gives a "message" event's payload as is, any other event's as a list.
        return [
            r["args"][0] if isinstance(r["args"], list) else r["args"]
            for r in self.socket.get_received()
            if r["name"] == event
        ]


@pytest.fixture
def people(app):
    made = []

    def make(name, **kwargs):
        person = Person(app, name, **kwargs)
        made.append(person)
        return person

    yield make
    for person in made:
        if person.socket.is_connected():
            person.socket.disconnect()


def private_room(owner, name, *members):
    assert owner.socket.emit("create_room", {"room": name, "private": True}, callback=True)["ok"]
    for member in members:
        assert owner.socket.emit("invite", {"room": name, "user": member}, callback=True)["ok"]


def counts(app):
    with app.app_context():
        return (db.session.scalar(select(func.count(Upload.id))), db.session.scalar(select(func.count(Message.id))))


def stored_files(folder):
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def multipart(filename_header, content, boundary="XyZzY", **fields):
    """A multipart body written by hand, for file names a test client would not send."""
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '.encode()
        + filename_header
        + b"\r\nContent-Type: application/octet-stream\r\n\r\n"
        + content
        + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


# ---- an image, end to end ----


def test_png_reaches_the_room_with_its_file_and_thumbnail(app, people, folder):
    alice, bob, carol = people("alice"), people("bob"), people("carol")
    private_room(alice, "team", "bob")
    bob.socket.disconnect()
    bob.socket = socketio.test_client(app, flask_test_client=bob.client)  # follows "team" from connect
    bob.socket.get_received()
    original = png(800, 600)

    response = alice.upload(
        original, "holiday.png", room="team", message="look **at** this", client_id="c-1", sid=alice.sid
    )

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    message = body["message"]
    assert body["ok"] is True and body["id"] == message["id"]
    assert message["text"] == "look **at** this" and message["room"] == "team"
    assert message["data"] == f"クライアント {alice.sid}: look **at** this" and message["client_id"] == "c-1"
    assert message["sid"] == alice.sid
    info = message["file"]
    assert info["name"] == "holiday.png" and info["type"] == "image/png" and info["size"] == len(original)
    assert info["image"] is True and (info["width"], info["height"]) == (800, 600)
    assert info["thumb_url"].endswith("/thumb") and info["url"].endswith("/holiday.png")
    live = bob.received("room_message")
    assert [m["id"] for m in live] == [message["id"]] and live[0]["file"] == info
    assert carol.received("room_message") == []

    # On disk: random names only, inside the folder, the bytes as sent.
    files = stored_files(folder)
    assert len(files) == 2 and all(TOKEN_NAME.fullmatch(p.name) for p in files)
    assert all(p.resolve().is_relative_to(folder.resolve()) for p in files)
    assert next(p for p in files if not p.name.endswith(".thumb")).read_bytes() == original

    thumb = bob.client.get(info["thumb_url"])
    assert thumb.status_code == 200 and thumb.mimetype == "image/png"
    with Image.open(BytesIO(thumb.data)) as small:
        assert small.format == "PNG" and max(small.size) <= 320 and small.size == (320, 240)

    download = bob.client.get(info["url"])
    assert download.status_code == 200 and download.data == original
    assert download.headers["Content-Type"] == "image/png"
    assert download.headers["Content-Disposition"].startswith("inline")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    cache = download.headers["Cache-Control"]
    assert "private" in cache and "public" not in cache
    assert bob.client.get(info["url"], headers={"If-None-Match": download.headers["ETag"]}).status_code == 304

    # Carol is not a member: the file and its thumbnail do not exist for her, nor for a stranger.
    assert carol.client.get(info["url"]).status_code == 404
    assert carol.client.get(info["thumb_url"]).status_code == 404
    assert app.test_client().get(info["url"]).status_code == 404
    assert alice.client.get(info["url"]).status_code == 200

    # History carries the same file.
    history = bob.client.get("/api/rooms/team/messages").get_json()["messages"]
    assert history[-1]["file"] == info


def test_upload_to_everyone_goes_out_as_message(app, people):
    dana, eve = people("dana"), people("eve", as_guest=True)
    eve.socket.get_received()
    response = eve.upload(b"plain notes\n", "notes.txt")
    assert response.status_code == 201
    message = response.get_json()["message"]
    assert message["room"] is None and message["text"] == "notes.txt" and message["user"]["name"] == "eve"
    assert message["data"] == "クライアント upload: notes.txt"  # no sid sent
    assert [m["id"] for m in dana.received("message")] == [message["id"]]
    with app.app_context():
        assert db.session.execute(select(Upload)).scalar_one().room_id is None
    assert dana.client.get(message["file"]["url"]).status_code == 200
    assert app.test_client().get(message["file"]["url"]).status_code == 404  # no session: no file


def test_text_file_is_served_as_an_attachment(people):
    fred = people("fred")
    text = "こんにちは\n<script>alert(1)</script>\n".encode()
    response = fred.upload(text, "greeting.txt", sid="<script>")
    assert response.status_code == 201
    message = response.get_json()["message"]
    assert message["sid"] == "upload"  # not a safe socket id: the default
    info = message["file"]
    assert info["type"] == "text/plain" and info["image"] is False and info["thumb_url"] is None
    download = fred.client.get(info["url"])
    assert download.status_code == 200 and download.data == text
    assert download.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert download.headers["Content-Disposition"] == "attachment; filename=greeting.txt"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert fred.client.get(info["url"].rsplit("/", 1)[0] + "/thumb").status_code == 404


def test_an_upload_names_only_a_socket_of_its_own_uploader(app, people):
    """The seed's data string names a socket: another user's, or a closed one, is never claimed."""
    gina, hugo = people("gina"), people("hugo", as_guest=True)
    second_tab = socketio.test_client(app, flask_test_client=gina.client)
    second_sid = socketio.server.manager.sid_from_eio_sid(second_tab.eio_sid, "/")
    cases = [(hugo.sid, "upload"), ("notasocket123", "upload"), (second_sid, second_sid), (gina.sid, gina.sid)]
    for given, shown in cases:
        response = gina.upload(b"notes", "n.txt", sid=given)
        assert response.status_code == 201, response.get_json()
        message = response.get_json()["message"]
        assert (message["sid"], message["data"]) == (shown, f"クライアント {shown}: n.txt"), given
    assert hugo.upload(b"mine", "m.txt", sid=hugo.sid).get_json()["message"]["sid"] == hugo.sid  # a guest too
    second_tab.disconnect()
    assert gina.upload(b"late", "l.txt", sid=second_sid).get_json()["message"]["sid"] == "upload"
    with app.app_context():
        assert [m.sender_sid for m in db.session.scalars(select(Message).order_by(Message.id))] == [
            "upload",
            "upload",
            second_sid,
            gina.sid,
            hugo.sid,
            "upload",
        ]


@pytest.mark.parametrize(
    "content,filename,expected",
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "logo.svg", "text/plain"),
        (bytes(range(256)) * 4, "data.bin", "application/octet-stream"),
        (b"%PDF-1.4\n" + b"x" * 300, "paper.pdf", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "notes.txt", None),  # a PNG's signature, unreadable: refused below
    ],
)
def test_type_is_decided_by_the_content(people, content, filename, expected):
    gina = people("gina")
    response = gina.upload(content, filename)
    if expected is None:
        assert response.status_code == 415 and response.get_json()["error"]["code"] == "invalid_image"
        return
    assert response.status_code == 201, response.get_json()
    info = response.get_json()["message"]["file"]
    assert info["type"] == expected and info["image"] is False
    download = gina.client.get(info["url"])
    assert download.mimetype == expected and download.headers["Content-Disposition"].startswith("attachment")


def test_jpeg_size_follows_its_orientation_and_the_thumbnail_is_jpeg(people):
    hana = people("hana")
    response = hana.upload(jpeg(1000, 400, orientation=6), "phone.jpg")
    assert response.status_code == 201
    info = response.get_json()["message"]["file"]
    assert info["type"] == "image/jpeg" and (info["width"], info["height"]) == (400, 1000)
    thumb = hana.client.get(info["thumb_url"])
    with Image.open(BytesIO(thumb.data)) as small:
        assert thumb.mimetype == "image/jpeg" and small.format == "JPEG" and small.size == (128, 320)


def image_bytes(mode, fmt, size=(640, 480), **options):
    out = BytesIO()
    Image.new(mode, size).save(out, fmt, **options)
    return out.getvalue()


@pytest.mark.parametrize(
    "content,name,mime,thumb",
    [
        (image_bytes("P", "GIF", transparency=0), "anim.gif", "image/gif", "PNG"),
        (image_bytes("RGBA", "WEBP"), "pic.webp", "image/webp", "PNG"),
        (image_bytes("I;16", "PNG"), "deep.png", "image/png", "PNG"),
        (image_bytes("CMYK", "JPEG"), "print.jpg", "image/jpeg", "JPEG"),
    ],
)
def test_every_inline_format_gets_a_thumbnail(people, content, name, mime, thumb):
    ben = people("ben")
    response = ben.upload(content, name)
    assert response.status_code == 201, response.get_json()
    info = response.get_json()["message"]["file"]
    assert info["type"] == mime and info["image"] is True and (info["width"], info["height"]) == (640, 480)
    small = ben.client.get(info["thumb_url"])
    with Image.open(BytesIO(small.data)) as image:
        assert image.format == thumb and image.size == (320, 240)
    assert ben.client.get(info["url"]).headers["Content-Disposition"].startswith("inline")


# ---- refusals: nothing is kept ----


def test_html_named_like_an_image_is_refused(app, people, folder):
    ivan = people("ivan")
    for name in ("cat.png", "cat.JPG", "cat.pdf"):
        response = ivan.upload(b"<!doctype html><html><script>alert(1)</script></html>", name)
        assert response.status_code == 415
        assert response.get_json()["error"]["code"] == "type_mismatch"
    assert counts(app) == (0, 0) and stored_files(folder) == []


def test_a_broken_image_is_refused(app, people, folder):
    response = people("jun").upload(png()[:200], "cut.png")
    assert response.status_code == 415 and response.get_json()["error"]["code"] == "invalid_image"
    assert counts(app) == (0, 0) and stored_files(folder) == []


def test_an_image_upload_is_refused_while_the_blocking_pool_is_full(app, people, folder):
    from chat import blocking

    with app.app_context():
        full = blocking.pool(app)
    kai = people("kai")
    full.admitted = full.capacity  # every thread taken, the waiting line full
    try:
        response = kai.upload(png(), "cat.png")
    finally:
        full.admitted = 0
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "busy"
    assert counts(app) == (0, 0) and stored_files(folder) == []
    assert kai.upload(png(), "cat.png").status_code == 201


def test_too_large_is_refused_before_or_while_reading(make_app, tmp_path):
    folder = tmp_path / "small"
    app = make_app(CHAT_UPLOAD_FOLDER=str(folder), CHAT_MAX_UPLOAD_SIZE=1000)
    kim = Person(app, "kim")
    # Past the file limit, within the body limit: counted while it is copied.
    response = kim.upload(b"a" * 1001, "big.txt")
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "too_large"
    # Past the body limit (MAX_CONTENT_LENGTH): Flask refuses it without reading it.
    response = kim.upload(b"a" * 200_000, "huge.txt")
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "too_large"
    # Chunked (no Content-Length): the stream itself is cut at the limit.
    body = multipart(b'filename="chunked.txt"', b"a" * 200_000)
    response = kim.client.post(
        "/api/uploads",
        input_stream=BytesIO(body),
        headers={"X-CSRFToken": kim.token},
        content_type="multipart/form-data; boundary=XyZzY",
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "too_large"
    # A Content-Length that lies (shorter than the body): a cut-off form, no file.
    body = multipart(b'filename="liar.txt"', b"a" * 5000)
    response = kim.raw_upload(body, CONTENT_LENGTH="900")
    assert response.status_code == 400 and response.is_json
    assert kim.upload(b"a" * 1000, "fits.txt").status_code == 201
    assert counts(app) == (1, 1) and len(stored_files(folder)) == 1
    kim.socket.disconnect()


def test_too_many_pixels_is_refused(make_app, tmp_path):
    app = make_app(CHAT_UPLOAD_FOLDER=str(tmp_path / "u"), CHAT_UPLOAD_MAX_PIXELS=10_000)
    lee = Person(app, "lee")
    response = lee.upload(png(101, 100), "wide.png")
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "too_large"
    assert lee.upload(png(100, 100), "square.png").status_code == 201
    lee.socket.disconnect()


def png_header(width, height):
    """A tiny PNG whose header claims width x height pixels (a decompression bomb's shape)."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("width, height", [(20000, 20000), (9000, 5000)])
def test_a_decompression_bomb_is_too_large_before_its_pixels_are_decoded(app, people, folder, width, height):
    """400 Mpx passes Pillow's own bomb limit (2 x 89 Mpx), 45 Mpx only CHAT_UPLOAD_MAX_PIXELS (40 Mpx):
    both are 413 too_large, answered from the header of a file of a few dozen bytes."""
    bomb = png_header(width, height)
    assert len(bomb) < 200
    response = people("ivan").upload(bomb, "bomb.png")
    assert response.status_code == 413, response.get_json()
    assert response.get_json()["error"]["code"] == "too_large"
    assert counts(app) == (0, 0) and stored_files(folder) == []


def test_anonymous_is_refused(app, folder):
    client = app.test_client()
    response = client.post("/api/uploads", data={"file": (BytesIO(png()), "x.png")}, content_type="multipart/form-data")
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"
    assert counts(app) == (0, 0) and stored_files(folder) == []


def test_missing_or_wrong_csrf_token_is_refused(app, people, folder):
    assert app.config["WTF_CSRF_ENABLED"]
    mia = people("mia")
    for headers in ({}, {"X-CSRFToken": "forged"}):
        response = mia.client.post(
            "/api/uploads",
            data={"file": (BytesIO(b"hi"), "a.txt")},
            headers=headers,
            content_type="multipart/form-data",
        )
        assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_csrf"
    assert counts(app) == (0, 0) and stored_files(folder) == []
    # The form field works as well as the header.
    response = mia.client.post(
        "/api/uploads",
        data={"file": (BytesIO(b"hi"), "a.txt"), "csrf_token": mia.token},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    "fields,status,code",
    [
        ({"room": "nowhere"}, 404, "not_found"),
        ({"room": "secret"}, 404, "not_found"),  # private, not a member
        ({"room": "bad\nname"}, 400, "invalid_room"),
        ({"message": "x" * 4001}, 400, "too_long"),
        ({"client_id": "x" * 65}, 400, "invalid_type"),
    ],
)
def test_bad_forms_are_refused(app, people, folder, fields, status, code):
    owner, nico = people("owner"), people("nico")
    private_room(owner, "secret")
    response = nico.upload(b"hello", "a.txt", **fields)
    assert response.status_code == status and response.get_json()["error"]["code"] == code
    assert counts(app) == (0, 0) and stored_files(folder) == []


def test_missing_and_empty_files_are_refused(app, people, folder):
    olga = people("olga")
    response = olga.client.post("/api/uploads", data={"message": "no file"}, headers={"X-CSRFToken": olga.token})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "missing_field"
    response = olga.upload(b"", "empty.txt")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "empty_file"
    assert counts(app) == (0, 0) and stored_files(folder) == []


def test_a_public_room_takes_uploads_from_anyone_signed_in(app, people):
    pat, quinn = people("pat"), people("quinn")
    assert pat.socket.emit("join_room", {"room": "lobby"}, callback=True)["ok"]
    pat.socket.get_received()
    response = quinn.upload(png(10, 10), "dot.png", room="lobby")  # quinn never joined
    assert response.status_code == 201
    assert [m["file"]["name"] for m in pat.received("room_message")] == ["dot.png"]
    assert quinn.client.get(response.get_json()["message"]["file"]["url"]).status_code == 200


# ---- names ----


@pytest.mark.parametrize(
    "header,shown",
    [
        (b'filename="../../etc/passwd"', "passwd"),
        ("filename*=UTF-8''{}".format(quote("..\\..\\x.txt", safe="")).encode(), "x.txt"),
        ("filename*=UTF-8''{}".format(quote("a\0b\nc\r.txt", safe="")).encode(), "abc.txt"),
        ("filename*=UTF-8''{}".format(quote("/etc/../.bashrc", safe="")).encode(), "bashrc"),
        ("filename*=UTF-8''{}".format(quote("invoice\u202etxt.exe", safe="")).encode(), "invoicetxt.exe"),
        (b'filename="..."', "file"),
        (b'filename=""', "file"),
    ],
)
def test_path_tricks_in_the_file_name_stay_in_the_folder(app, people, folder, header, shown):
    rosa = people("rosa")
    response = rosa.raw_upload(multipart(header, b"some text"))
    assert response.status_code == 201, response.get_json()
    info = response.get_json()["message"]["file"]
    assert info["name"] == shown and response.get_json()["message"]["text"] == shown
    files = stored_files(folder)
    assert len(files) == 1 and TOKEN_NAME.fullmatch(files[0].name)
    assert files[0].resolve().is_relative_to(folder.resolve())
    assert not (folder.parent / "etc").exists()
    assert unquote(info["url"].rsplit("/", 1)[1]) == shown
    download = rosa.client.get(info["url"])
    assert download.status_code == 200 and download.data == b"some text"
    assert "\n" not in download.headers["Content-Disposition"]


def test_display_names():
    assert display_name("C:\\Users\\me\\Desktop\\photo.png") == "photo.png"
    assert display_name("  .hidden  ") == "hidden"
    assert display_name(None) == "file"
    assert display_name("\x00\x1f\x7f") == "file"
    long = display_name("あ" * 400 + ".txt")
    assert len(long) == 255 and long.endswith(".txt")
    assert len(display_name("b" * 300)) == 255
    assert display_name(unicodedata.normalize("NFD", "ガイド.txt")) == "ガイド.txt"  # macOS sends NFD


def test_japanese_file_name_round_trips(people):
    saki = people("saki")
    name = "会議メモ 2026.txt"
    response = saki.upload("議事録".encode(), name)
    info = response.get_json()["message"]["file"]
    assert info["name"] == name and info["url"].endswith("/" + quote(name, safe=""))
    download = saki.client.get(info["url"])
    assert download.status_code == 200
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f"filename*=UTF-8''{quote(name, safe='')}" in disposition
    assert disposition.encode("latin-1")  # the header itself stays ASCII


def test_a_file_named_thumb_is_still_reachable(people):
    taro = people("taro")
    info = taro.upload(b"not a thumbnail", "thumb").get_json()["message"]["file"]
    assert info["thumb_url"] is None and not info["url"].endswith("/thumb")
    assert taro.client.get(info["url"]).data == b"not a thumbnail"


# ---- retries, deletion ----


def test_same_client_id_twice_is_one_message_and_one_file(app, people, folder):
    uma, vic = people("uma"), people("vic")
    vic.socket.get_received()
    first = uma.upload(png(20, 20), "a.png", client_id="retry-1")
    again = uma.upload(png(20, 20), "a.png", client_id="retry-1")
    assert first.status_code == 201 and again.status_code == 201
    assert again.get_json()["duplicate"] is True and "duplicate" not in first.get_json()
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.get_json()["message"]["file"] == first.get_json()["message"]["file"]
    assert len(vic.received("message")) == 1
    assert counts(app) == (1, 1) and len(stored_files(folder)) == 2  # the file and its thumbnail
    # Another user's client_id of the same value is theirs.
    assert vic.upload(b"x", "b.txt", client_id="retry-1").get_json().get("duplicate") is None


def test_a_discarded_upload_is_gone(app, people, folder):
    wes = people("wes")
    info = wes.upload(png(30, 30), "gone.png").get_json()["message"]["file"]
    with app.app_context():
        discard(db.session.get(Upload, info["id"]))
    assert stored_files(folder) == []
    assert wes.client.get(info["url"]).status_code == 404
    assert wes.client.get(info["thumb_url"]).status_code == 404


def test_deleting_the_message_deletes_the_file(app, people, folder):
    amy = people("amy")
    body = amy.upload(png(30, 30), "mine.png").get_json()
    info = body["message"]["file"]
    assert amy.socket.emit("delete_message", {"id": body["id"]}, callback=True)["ok"]
    assert stored_files(folder) == []
    assert amy.client.get(info["url"]).status_code == 404 and amy.client.get(info["thumb_url"]).status_code == 404
    history = amy.client.get("/api/messages").get_json()["messages"]
    assert history[-1]["deleted"] is True and "file" not in history[-1]


def test_a_failed_store_leaves_no_file(app, people, folder, monkeypatch):
    import chat.uploads.routes

    def broken(*args, **kwargs):
        raise RuntimeError("database down")

    monkeypatch.setattr(chat.uploads.routes, "store_and_send", broken)
    xia = people("xia")
    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert xia.upload(png(30, 30), "x.png").status_code == 500
    assert counts(app) == (0, 0) and stored_files(folder) == []


def test_a_guest_can_upload_and_a_dm_is_private(app, people):
    yuki, zed, other = people("yuki", as_guest=True), people("zed"), people("other")
    ack = zed.socket.emit("open_dm", {"user": "yuki"}, callback=True)
    room = ack["room"]
    yuki.socket.get_received()
    response = yuki.upload(b"for you only", "dm.txt", room=room)
    assert response.status_code == 201
    url = response.get_json()["message"]["file"]["url"]
    assert [m["text"] for m in yuki.received("room_message")] == ["dm.txt"]
    assert zed.client.get(url).status_code == 200 and yuki.client.get(url).status_code == 200
    assert other.client.get(url).status_code == 404
    assert other.upload(b"sneaky", "x.txt", room=room).status_code == 404


def test_uploads_can_be_rate_limited(make_app, tmp_path, monkeypatch):
    import chat.ratelimit

    monkeypatch.setattr(chat.ratelimit, "limiter", chat.ratelimit.RateLimiter())  # no other test's buckets
    app = make_app(CHAT_UPLOAD_FOLDER=str(tmp_path / "u"), CHAT_USER_RATE_LIMIT=0.001, CHAT_USER_RATE_BURST=2)
    ann = Person(app, "ann-rate")
    statuses = [ann.upload(b"x", f"{i}.txt").status_code for i in range(3)]
    assert statuses == [201, 201, 429]
    ann.socket.disconnect()


# ---- a real server (eventlet, gevent), long-polling beside the body limit ----


@pytest.fixture(scope="module", params=["eventlet", "gevent"])
def upload_server(request, live_database, tmp_path_factory):
    """gunicorn with each worker the app supports: images are decoded on an OS thread under both."""
    folder = tmp_path_factory.mktemp("live-uploads")
    server = servers.gunicorn(
        request.param,
        env={
            "DATABASE_URL": live_database(),
            "CHAT_UPLOAD_FOLDER": str(folder),
            "CHAT_MAX_UPLOAD_SIZE": "1000",
            "CHAT_UPLOAD_THUMBNAIL_SIZE": "64",
        },
    ).start()
    yield server, folder
    server.stop()


def test_live_server_takes_an_image_and_polling_is_not_capped_by_the_body_limit(upload_server):
    server, folder = upload_server
    session = requests.Session()
    assert guest(session, "poller", base=server.url).status_code == 302
    token = session.get(server.url + "/").text.split('name="csrf_token" value="')[1].split('"')[0]
    listener = LiveClient(server.url, ["polling"]).connect()
    try:
        image = png(100, 50)
        assert len(image) <= 1000
        response = session.post(
            server.url + "/api/uploads",
            files={"file": ("live.png", image, "image/png")},
            headers={"X-CSRFToken": token},
        )
        assert response.status_code == 201, response.text
        info = response.json()["message"]["file"]
        listener.wait_for(lambda got: any(p.get("file") == info for n, p in got if n == "message"))
        thumb = session.get(server.url + info["thumb_url"])
        with Image.open(BytesIO(thumb.content)) as small:
            assert small.size == (64, 32)
        too_big = session.post(
            server.url + "/api/uploads",
            files={"file": ("big.bin", os.urandom(200_000))},
            headers={"X-CSRFToken": token},
        )
        assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "too_large"
        # A polling POST far above MAX_CONTENT_LENGTH (about 80 kB here) still reaches Engine.IO:
        # the event is answered (refused for its topic's length), the connection stays.
        reply = listener.call("create_room", {"room": "big", "topic": "t" * 150_000})
        assert reply["ok"] is False and reply["error"]["code"] == "too_long"
        assert listener.call("join_room", {"room": "after"})["ok"]
    finally:
        listener.disconnect()
    assert all(TOKEN_NAME.fullmatch(p.name) for p in Path(folder).rglob("*") if p.is_file())
