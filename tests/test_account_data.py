"""One's own data: the export zip, and account deletion (messages kept or erased, files removed)."""

import io
import json
import os
import zipfile
from io import BytesIO

import pytest

from chat.extensions import db, socketio
from chat.models import Message, Upload, User
from chat.tokens.models import ApiToken
from chat.uploads.files import file_path
from tests.accounts import guest, register
from tests.data_helpers import bearer, make_token, page_csrf, signed_in


def upload(app, token, room, content=b"my notes\n", name="notes.txt"):
    response = app.test_client().post(
        "/api/uploads",
        data={"file": (BytesIO(content), name), "room": room},
        headers=bearer(token),
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["message"]


def setup_alice(app):
    alice = signed_in(app, "alice")
    sock = socketio.test_client(app, flask_test_client=alice)
    assert sock.emit("create_room", {"room": "部屋", "topic": "t"}, callback=True)["ok"]
    assert sock.emit("join_room", {"room": "部屋"}, callback=True)["ok"]
    sock.emit("room_message", {"room": "部屋", "message": "こんにちは <b>"}, callback=True)
    sock.emit("send_message", {"message": "to everyone"}, callback=True)
    return alice, sock


def test_export_holds_ones_messages_rooms_and_files(app):
    alice, sock = setup_alice(app)
    bob = signed_in(app, "bob")
    bob_sock = socketio.test_client(app, flask_test_client=bob)
    bob_sock.emit("join_room", {"room": "部屋"}, callback=True)
    bob_sock.emit("room_message", {"room": "部屋", "message": "bob's words"}, callback=True)
    sent = upload(app, make_token(alice), "部屋")
    response = alice.post("/settings/data/export", data={"csrf_token": page_csrf(alice, "/settings/data")})
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert "attachment" in response.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    messages = json.loads(archive.read("messages.json"))
    texts = [(m["room"], m["text"]) for m in messages]
    assert ("部屋", "こんにちは <b>") in texts and (None, "to everyone") in texts
    assert all(m["text"] != "bob's words" for m in messages)
    rooms = json.loads(archive.read("rooms.json"))
    assert [r["name"] for r in rooms] == ["部屋"] and rooms[0]["creator"] is True
    files = [n for n in archive.namelist() if n.startswith("uploads/")]
    assert files == [f"uploads/{sent['file']['id']}-notes.txt"]
    assert archive.read(files[0]) == b"my notes\n"
    sock.disconnect()
    bob_sock.disconnect()


def test_export_needs_csrf_and_a_session(app):
    alice, sock = setup_alice(app)
    assert alice.post("/settings/data/export").status_code == 400
    anonymous = app.test_client().post("/settings/data/export")
    assert anonymous.status_code in (302, 400)
    token = make_token(alice)
    assert app.test_client().post("/settings/data/export", headers=bearer(token)).status_code in (302, 400)
    sock.disconnect()


@pytest.mark.parametrize("mode", ["keep", "erase"])
def test_deleting_an_account(make_app, mode):
    app = make_app(CHAT_DELETED_USER_MESSAGES=mode)
    alice, sock = setup_alice(app)
    sent = upload(app, make_token(alice), "部屋")
    with app.app_context():
        path = file_path(db.session.execute(db.select(Upload.token)).scalar_one())
    assert os.path.exists(path)
    other_tab = socketio.test_client(app, flask_test_client=alice)
    token = make_token(alice, "script")
    token_sock = socketio.test_client(app, auth={"token": token})
    assert other_tab.is_connected() and token_sock.is_connected()
    csrf = page_csrf(alice, "/settings/data")
    wrong = alice.post("/settings/data/delete", data={"csrf_token": csrf, "password": "not it"})
    assert wrong.status_code == 403
    done = alice.post("/settings/data/delete", data={"csrf_token": csrf, "password": "correct horse"})
    assert done.status_code == 200 and 'id="deleted"' in done.get_data(as_text=True)
    # Sessions, sockets and tokens end.
    assert not other_tab.is_connected() and not sock.is_connected() and not token_sock.is_connected()
    assert app.test_client().get("/api/rooms", headers=bearer(token)).status_code == 401
    assert alice.get("/settings/data").status_code == 302
    assert not os.path.exists(path)
    with app.app_context():
        assert db.session.execute(db.select(User).filter_by(name="alice")).first() is None
        assert db.session.execute(db.select(Upload)).first() is None
        assert db.session.execute(db.select(ApiToken)).first() is None
        authors = db.session.execute(db.select(Message.author_name, Message.user_id)).all()
    if mode == "keep":
        assert sorted(authors) == [("deleted user", None)] * 3
        history = app.test_client().get("/api/messages").get_json()["messages"]
        assert history[0]["user"] == {"id": None, "name": "deleted user"}
    else:
        assert authors == []
    assert sent["file"]["url"]
    # The name is free again.
    assert register(app.test_client(), "alice").status_code == 302


def test_a_guest_confirms_with_its_name(app):
    visitor = app.test_client()
    assert guest(visitor, "visitor").status_code == 302
    csrf = page_csrf(visitor, "/settings/data")
    for typed in ("someone", "vis\x00itor", "x" * 10000):
        refused = visitor.post("/settings/data/delete", data={"csrf_token": csrf, "name": typed})
        assert refused.status_code == 403
    raw = visitor.post(  # a lone surrogate's UTF-8 bytes, and a bidi override
        "/settings/data/delete",
        data=f"csrf_token={csrf}&name=%ED%A0%80visitor%E2%80%AE",
        content_type="application/x-www-form-urlencoded",
    )
    assert raw.status_code == 403
    done = visitor.post("/settings/data/delete", data={"csrf_token": csrf, "name": "ＶＩＳＩＴＯＲ"})
    assert done.status_code == 200
    with app.app_context():
        assert db.session.execute(db.select(User)).first() is None


def test_deletion_needs_csrf_and_throttles_guessing(make_app):
    app = make_app(CHAT_LOGIN_ACCOUNT_LIMIT="3 per 10 minutes")
    alice, sock = setup_alice(app)
    assert alice.post("/settings/data/delete", data={"password": "correct horse"}).status_code == 400
    csrf = page_csrf(alice, "/settings/data")
    codes = [
        alice.post("/settings/data/delete", data={"csrf_token": csrf, "password": f"guess {i}"}).status_code
        for i in range(5)
    ]
    assert codes[:3] == [403, 403, 403] and codes[3:] == [429, 429]
    right = alice.post("/settings/data/delete", data={"csrf_token": csrf, "password": "correct horse"})
    assert right.status_code == 429  # locked for the window, the right password too
    with app.app_context():
        assert db.session.execute(db.select(User).filter_by(name="alice")).first() is not None
    huge = alice.post("/settings/data/delete", data={"csrf_token": csrf, "password": "p" * 100_000})
    assert huge.status_code in (403, 429, 413)
    sock.disconnect()


def test_export_reads_messages_a_batch_at_a_time(app, monkeypatch):
    import chat.export.data as export_data

    monkeypatch.setattr(export_data, "BATCH", 2)
    alice, sock = setup_alice(app)
    for i in range(5):
        sock.emit("send_message", {"message": f'n{i} \u2028 "quoted"'}, callback=True)
    response = alice.post("/settings/data/export", data={"csrf_token": page_csrf(alice, "/settings/data")})
    messages = json.loads(zipfile.ZipFile(io.BytesIO(response.get_data())).read("messages.json"))
    assert [m["text"] for m in messages][-5:] == [f'n{i} \u2028 "quoted"' for i in range(5)]
    assert len(messages) == 7 and [m["id"] for m in messages] == sorted(m["id"] for m in messages)
    sock.disconnect()
