"""Administration (issue 22): the /admin page and /api/admin for admins only, deactivation, mutes,
archived and deleted rooms, room moderators, reports, and the audit log of every action."""

import re
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
from sqlalchemy import select, update

from chat.admin.models import AuditLog, Report, RoomModerator
from chat.extensions import db, socketio
from chat.models import Message, Room, User, utc_now
from tests.accounts import login
from tests.test_everyday import Person, received
from tests.test_uploads import png

TOKEN = re.compile(r'(?:name="csrf_token" value=|"csrfToken": ?)"([^"]+)"')


def csrf(person, path="/"):
    return TOKEN.search(person.http.get(path).get_data(as_text=True)).group(1)


def make_admin(app, name):
    with app.app_context():
        db.session.execute(update(User).where(User.name == name).values(is_admin=True))
        db.session.commit()


def ids(app, model, **where):
    with app.app_context():
        return db.session.execute(select(model.id).filter_by(**where)).scalar_one()


def audit_rows(app):
    with app.app_context():
        rows = db.session.execute(select(AuditLog).order_by(AuditLog.id)).scalars().all()
        return [(r.actor_name, r.action, r.target_type, r.target_name, r.details) for r in rows]


def api(person, kind, target_id, action, body=None, token=None):
    return person.http.post(
        f"/api/admin/{kind}/{target_id}/{action}",
        json=body if body is not None else {},
        headers={"X-CSRFToken": token or csrf(person)},
    )


def form(person, kind, target_id, action, **fields):
    """Post one of the /admin page's forms, with the page's CSRF token."""
    token = csrf(person, "/admin")
    return person.http.post(f"/admin/{kind}/{target_id}/{action}", data={"csrf_token": token, **fields})


@pytest.fixture
def team(app):
    """alice is an admin; bob and carol are users; alice owns the public room "general"."""
    alice, bob, carol = Person(app, "alice"), Person(app, "bob"), Person(app, "carol")
    make_admin(app, "alice")
    assert alice.call("create_room", {"room": "general"})["ok"]
    for person in (bob, carol):
        assert person.call("join_room", {"room": "general"})["ok"]
    yield alice, bob, carol
    for person in (alice, bob, carol):
        person.close()


# ---- who may: the permission matrix ----

READS = ["/api/admin/users", "/api/admin/rooms", "/api/admin/reports", "/api/admin/audit"]


def test_only_admins_reach_the_page_and_the_api(app, team):
    alice, bob, _ = team
    bob_id = ids(app, User, name="bob")
    outsider = app.test_client()
    for client in (outsider, bob.http):
        page = client.get("/admin")
        assert page.status_code == 403 and "admin" in page.get_data(as_text=True).lower()
        for path in READS:
            response = client.get(path)
            assert response.status_code in (401, 403) and response.json["error"]["code"] in (
                "forbidden",
                "unauthorized",
            )
    token = csrf(bob)
    for action in ("deactivate", "grant_admin", "mute"):
        response = bob.http.post(
            f"/api/admin/users/{bob_id}/{action}", json={"minutes": 5}, headers={"X-CSRFToken": token}
        )
        assert response.status_code == 403 and response.json["error"]["code"] == "forbidden"
    assert bob.http.post(f"/admin/users/{bob_id}/grant_admin", data={"csrf_token": token}).status_code == 403
    # Without its CSRF token even an admin's write is refused.
    assert alice.http.post(f"/api/admin/users/{bob_id}/deactivate", json={}).json["error"]["code"] == "invalid_csrf"
    with app.app_context():
        bob_row = db.session.get(User, bob_id)
        assert not bob_row.is_admin and bob_row.deactivated_at is None and bob_row.muted_until is None
    assert audit_rows(app) == []
    assert alice.http.get("/admin").status_code == 200
    for path in READS:
        assert alice.http.get(path).status_code == 200


def test_the_page_lists_searches_and_escapes(app, team):
    alice, _, _ = team
    Person(app, "<b>x</b>").close()
    html = alice.http.get("/admin?q=%3Cb").get_data(as_text=True)
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    assert 'data-user="bob"' not in html
    assert [u["name"] for u in alice.http.get("/api/admin/users?q=BO").json["users"]] == ["bob"]
    assert [r["name"] for r in alice.http.get("/api/admin/rooms?q=gen").json["rooms"]] == ["general"]
    assert "管理" in alice.http.get("/admin?lang=ja").get_data(as_text=True)


# ---- deactivation ----


def test_deactivation_ends_sessions_and_sockets_and_refuses_login(app, team):
    alice, bob, _ = team
    bob_id = ids(app, User, name="bob")
    sock = bob.sock
    assert sock.is_connected()
    response = form(alice, "users", bob_id, "deactivate")
    assert response.status_code == 303
    assert not sock.is_connected()
    # The old cookie: its socket is refused, the API answers 401 (and the cookie is cleared).
    assert not socketio.test_client(app, flask_test_client=bob.http).is_connected()
    assert bob.http.get("/api/rooms").status_code == 401
    # The right password: a clear "deactivated"; a wrong one: the usual answer.
    fresh = app.test_client()
    refused = login(fresh, "bob")
    assert refused.status_code == 403 and "deactivated" in refused.get_data(as_text=True)
    assert login(fresh, "bob", "wrong password").status_code == 401
    with app.app_context():
        assert db.session.get(User, bob_id).is_active is False
    # An admin cannot deactivate themselves.
    assert api(alice, "users", ids(app, User, name="alice"), "deactivate").json["error"]["code"] == "invalid_user"
    assert api(alice, "users", bob_id, "reactivate").status_code == 200
    assert login(fresh, "bob").status_code == 302
    assert socketio.test_client(app, flask_test_client=fresh).is_connected()
    assert [row[1] for row in audit_rows(app)] == ["deactivate", "reactivate"]
    assert audit_rows(app)[0][:4] == ("alice", "deactivate", "user", "bob")


def test_the_last_admin_stays(app, team):
    alice, bob, _ = team
    alice_id, bob_id = ids(app, User, name="alice"), ids(app, User, name="bob")
    assert api(alice, "users", alice_id, "revoke_admin").json["error"]["code"] == "last_admin"
    assert api(alice, "users", bob_id, "grant_admin").status_code == 200
    assert bob.http.get("/admin").status_code == 200
    assert api(alice, "users", alice_id, "revoke_admin").status_code == 200
    assert alice.http.get("/admin").status_code == 403
    assert api(bob, "users", bob_id, "revoke_admin").json["error"]["code"] == "last_admin"
    assert [row[1] for row in audit_rows(app)] == ["grant_admin", "revoke_admin"]


# ---- mutes ----


def test_a_mute_refuses_every_write_until_it_ends(app, team):
    alice, bob, _ = team
    bob_id = ids(app, User, name="bob")
    assert bob.call("room_message", {"room": "general", "message": "before"})["ok"]
    mine = ids(app, Message, text="before")
    assert api(alice, "users", bob_id, "mute", {"minutes": 30}).status_code == 200
    bob.sock.get_received()
    writes = [
        ("room_message", {"room": "general", "message": "muted?"}),
        ("send_message", {"message": "muted?"}),
        ("edit_message", {"id": mine, "message": "changed"}),
        ("react", {"id": mine, "emoji": "👍"}),
        ("create_room", {"room": "mine"}),
        ("typing", {"room": "general"}),
        ("open_dm", {"user": "alice"}),
        ("invite", {"room": "general", "user": "carol"}),
    ]
    for event, payload in writes:
        reply = bob.call(event, payload)
        assert reply["ok"] is False and reply["error"]["code"] == "muted", (event, reply)
    assert [e["code"] for e in received(bob.sock, "error")] == ["muted"] * len(writes)
    token = csrf(bob)
    upload = bob.http.post(
        "/api/uploads",
        data={"file": (BytesIO(png()), "a.png"), "room": "general"},
        headers={"X-CSRFToken": token},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 403 and upload.json["error"]["code"] == "muted"
    edit = bob.http.patch(f"/api/messages/{mine}", json={"message": "x"}, headers={"X-CSRFToken": token})
    assert edit.status_code == 403 and edit.json["error"]["code"] == "muted"
    # Reading goes on.
    assert bob.call("get_history", {"room": "general"})["ok"]
    with app.app_context():
        assert db.session.execute(select(Message.text).where(Message.id == mine)).scalar_one() == "before"
        assert db.session.execute(select(Message).where(Message.text == "muted?")).first() is None
        # The mute ends by itself.
        db.session.execute(update(User).where(User.id == bob_id).values(muted_until=utc_now() - timedelta(seconds=1)))
        db.session.commit()
    assert bob.call("room_message", {"room": "general", "message": "free again"})["ok"]
    assert api(alice, "users", bob_id, "mute", {"minutes": "5"}).status_code == 200
    assert bob.call("send_message", {"message": "no"})["error"]["code"] == "muted"
    assert api(alice, "users", bob_id, "unmute").status_code == 200
    assert bob.call("send_message", {"message": "yes"})["ok"]
    actions = [(row[1], row[4].get("minutes")) for row in audit_rows(app)]
    assert actions == [("mute", 30), ("mute", 5), ("unmute", None)]


@pytest.mark.parametrize(
    "minutes, code",
    [
        ("abc", "invalid_type"),
        (True, "invalid_type"),
        (None, "invalid_type"),
        ([5], "invalid_type"),
        (1.5, "invalid_type"),
        ("5\x00", "invalid_type"),
        ("١٢", "invalid_type"),
        (0, "out_of_range"),
        (-3, "out_of_range"),
        (10**30, "out_of_range"),
        ("9" * 40, "invalid_type"),
    ],
)
def test_hostile_mute_lengths_are_clear_errors(app, team, minutes, code):
    alice, _, _ = team
    response = api(alice, "users", ids(app, User, name="bob"), "mute", {"minutes": minutes})
    assert response.status_code == 400 and response.json["error"]["code"] == code
    assert audit_rows(app) == []


# ---- rooms: archive, delete, transfer, moderators ----


def test_an_archived_room_is_read_only_until_unarchived(app, team):
    alice, bob, _ = team
    assert bob.call("room_message", {"room": "general", "message": "old"})["ok"]
    old = ids(app, Message, text="old")
    room_id = ids(app, Room, name="general")
    bob.sock.get_received()
    assert api(alice, "rooms", room_id, "archive").status_code == 200
    assert received(bob.sock, "room_updated") == [{"room": "general", "archived": True}]
    for event, payload in [
        ("room_message", {"room": "general", "message": "new"}),
        ("edit_message", {"id": old, "message": "x"}),
        ("react", {"id": old, "emoji": "👍"}),
        ("delete_message", {"id": old}),
        ("typing", {"room": "general"}),
        ("set_topic", {"room": "general", "topic": "x"}),
    ]:
        sender = alice if event == "set_topic" else bob
        assert sender.call(event, payload)["error"]["code"] == "archived", event
    history = bob.call("get_history", {"room": "general"})
    assert [m["text"] for m in history["messages"]] == ["old"]
    assert alice.http.get("/api/rooms/general/messages").status_code == 200
    assert api(alice, "rooms", room_id, "unarchive").status_code == 200
    assert bob.call("room_message", {"room": "general", "message": "new"})["ok"]
    assert [row[1] for row in audit_rows(app)] == ["archive", "unarchive"]


def test_deleting_a_room_removes_its_messages_and_files_and_tells_its_members(app, team):
    alice, bob, carol = team
    token = csrf(bob)
    upload = bob.http.post(
        "/api/uploads",
        data={"file": (BytesIO(png()), "a.png"), "room": "general"},
        headers={"X-CSRFToken": token},
        content_type="multipart/form-data",
    )
    assert upload.status_code in (200, 201), upload.json
    with app.app_context():
        from chat.models import Upload

        stored = db.session.execute(select(Upload.token)).scalar_one()
    files = list(Path(app.config["CHAT_UPLOAD_FOLDER"]).rglob(f"*{stored}*"))
    assert files
    assert bob.call("room_message", {"room": "general", "message": "gone soon"})["ok"]
    room_id = ids(app, Room, name="general")
    carol.sock.get_received()
    response = form(alice, "rooms", room_id, "delete", confirm="on")
    assert response.status_code == 303
    assert {"room": "general", "reason": "deleted"} in received(carol.sock, "rooms_changed")
    assert not any(path.exists() for path in files)
    with app.app_context():
        assert db.session.get(Room, room_id) is None
        assert db.session.execute(select(Message).where(Message.room_id == room_id)).first() is None
    # The name is free again: a join makes a new, empty room (no node remembers the old one).
    assert bob.call("room_message", {"room": "general", "message": "x"})["error"]["code"] in (
        "not_in_room",
        "unknown_room",
    )
    assert bob.call("join_room", {"room": "general"})["ok"]
    assert bob.call("get_history", {"room": "general"})["messages"] == []
    assert bob.call("room_message", {"room": "general", "message": "fresh"})["ok"]
    assert audit_rows(app)[0][1:4] == ("delete_room", "room", "general")


def test_transfer_makes_another_user_the_owner(app, team):
    alice, bob, _ = team
    room_id = ids(app, Room, name="general")
    assert api(alice, "rooms", room_id, "transfer", {"user": "ＢＯＢ"}).status_code == 200
    assert bob.call("set_topic", {"room": "general", "topic": "bob's now"})["ok"]
    assert audit_rows(app)[0][1] == "transfer_room" and audit_rows(app)[0][4]["user"] == "bob"
    # alice is an admin, not its creator any more: a topic change is an admin's action (audited).
    assert alice.call("set_topic", {"room": "general", "topic": "admin"})["ok"]
    assert audit_rows(app)[-1][1:4] == ("set_topic", "room", "general")


def test_room_moderators_remove_members_set_topics_and_delete_messages(app, team):
    alice, bob, carol = team
    dave = Person(app, "dave")
    dave.call("join_room", {"room": "general"})
    room_id = ids(app, Room, name="general")
    alice.call("room_message", {"room": "general", "message": "by alice"})
    bob.call("room_message", {"room": "general", "message": "by bob"})
    by_bob, by_alice = ids(app, Message, text="by bob"), ids(app, Message, text="by alice")
    # Not a moderator yet: nothing.
    assert carol.call("set_topic", {"room": "general", "topic": "x"})["error"]["code"] == "forbidden"
    assert carol.call("delete_message", {"id": by_bob})["error"]["code"] == "forbidden"
    assert carol.call("remove_member", {"room": "general", "user": "dave"})["error"]["code"] == "forbidden"
    assert api(alice, "rooms", room_id, "add_moderator", {"user": "carol"}).status_code == 200
    assert alice.http.get("/api/admin/rooms").json["rooms"][0]["moderators"] == ["carol"]
    assert carol.call("set_topic", {"room": "general", "topic": "moderated"})["ok"]
    assert carol.call("delete_message", {"id": by_bob})["ok"]
    assert carol.call("remove_member", {"room": "general", "user": "dave"})["ok"]
    # Never the creator; and only in their own room.
    assert carol.call("remove_member", {"room": "general", "user": "alice"})["error"]["code"] == "forbidden"
    bob.call("create_room", {"room": "bobs"})
    bob.call("room_message", {"room": "bobs", "message": "elsewhere"})
    assert carol.call("delete_message", {"id": ids(app, Message, text="elsewhere")})["error"]["code"] == "forbidden"
    moderated = [(r[0], r[1], r[4].get("right")) for r in audit_rows(app) if r[0] == "carol"]
    assert moderated == [
        ("carol", "set_topic", "moderator"),
        ("carol", "delete_message", "moderator"),
        ("carol", "remove_member", "moderator"),
    ]
    assert api(alice, "rooms", room_id, "remove_moderator", {"user": "carol"}).status_code == 200
    assert carol.call("delete_message", {"id": by_alice})["error"]["code"] == "forbidden"
    with app.app_context():
        assert db.session.execute(select(RoomModerator)).first() is None
    dave.close()


@pytest.mark.parametrize(
    "user, code",
    [
        ("ca\x00rol", "invalid_text"),
        ("ca\u202erol", "invalid_user"),
        ("\ud800", "invalid_text"),
        ("nobody", "unknown_user"),
        ("", "empty_field"),
        (7, "invalid_type"),
        ("x" * 5000, "too_long"),
    ],
)
def test_hostile_user_names_in_room_actions_are_clear_errors(app, team, user, code):
    alice, _, _ = team
    response = api(alice, "rooms", ids(app, Room, name="general"), "add_moderator", {"user": user})
    assert response.json["error"]["code"] == code and response.status_code in (400, 404)
    assert audit_rows(app) == []


def test_hostile_api_requests_are_clear_errors(app, team):
    alice, _, _ = team
    token = csrf(alice)
    get = alice.http.get
    assert get("/api/admin/users?q=%00").json["error"]["code"] == "invalid_text"
    assert get("/api/admin/users?q=" + "a" * 500).json["error"]["code"] == "too_long"
    assert get("/api/admin/audit?page=-1").json["error"]["code"] == "invalid_type"
    assert get("/api/admin/audit?page=0").json["error"]["code"] == "out_of_range"
    assert get("/api/admin/audit?page=" + "9" * 50).status_code == 400
    assert api(alice, "users", 10**30, "mute", token=token).json["error"]["code"] == "unknown_user"
    assert api(alice, "rooms", 999, "archive", token=token).status_code == 404
    assert api(alice, "users", 1, "explode", token=token).status_code == 404
    assert api(alice, "secrets", 1, "deactivate", token=token).status_code == 404
    bad_json = alice.http.post(
        "/api/admin/users/1/mute", data="[1, 2]", content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert bad_json.json["error"]["code"] == "invalid_payload"
    assert alice.http.get("/admin?q=%00").status_code == 302  # the page says why, after a redirect


# ---- reports ----


@pytest.fixture
def reported(app, team):
    """alice's private room "secret" with bob; carol is outside it. Yields the message id."""
    alice, bob, carol = team
    alice.call("create_room", {"room": "secret", "private": True})
    alice.call("invite", {"room": "secret", "user": "bob"})
    alice.call("room_message", {"room": "secret", "message": "rude words"})
    return ids(app, Message, text="rude words")


def test_members_report_a_message_once_and_outsiders_learn_nothing(app, team, reported):
    alice, bob, carol = team
    reply = bob.call("report_message", {"id": reported, "reason": "rude"})
    assert reply["ok"] and reply["id"] == reported
    assert bob.call("report_message", {"id": reported, "reason": "again"})["error"]["code"] == "report_exists"
    token = csrf(bob)
    again = bob.http.post(f"/api/messages/{reported}/report", json={"reason": "again"}, headers={"X-CSRFToken": token})
    assert again.status_code == 409 and again.json["error"]["code"] == "report_exists"
    # An outsider gets the same answer for the private room's message as for no message at all.
    for target in (reported, 10**6):
        assert carol.call("report_message", {"id": target, "reason": "x"})["error"]["code"] == "unknown_message"
        response = carol.http.post(
            f"/api/messages/{target}/report", json={"reason": "x"}, headers={"X-CSRFToken": csrf(carol)}
        )
        assert response.status_code == 404 and response.json["error"]["code"] == "unknown_message"
    anonymous = socketio.test_client(app)
    assert anonymous.emit("report_message", {"id": reported, "reason": "x"}, callback=True)["error"]["code"] in (
        "forbidden",
        "unknown_message",
    )
    queue = alice.http.get("/api/admin/reports").json["reports"]
    assert [(r["reporter"], r["reason"], r["message"]["text"]) for r in queue] == [("bob", "rude", "rude words")]
    assert "rude words" in alice.http.get("/admin").get_data(as_text=True)
    # Resolved: off the queue, and bob may report it again.
    assert api(alice, "reports", queue[0]["id"], "resolve").status_code == 200
    assert alice.http.get("/api/admin/reports").json["reports"] == []
    http = bob.http.post(f"/api/messages/{reported}/report", json={"reason": "still"}, headers={"X-CSRFToken": token})
    assert http.status_code == 201
    # Deleting from the queue tombstones the message and closes every open report on it.
    carol_report = alice.http.get("/api/admin/reports").json["reports"][0]["id"]
    assert form(alice, "reports", carol_report, "delete_message").status_code == 303
    with app.app_context():
        assert db.session.get(Message, reported).deleted_at is not None
        assert db.session.execute(select(Report).where(Report.resolved_at.is_(None))).first() is None
    assert bob.call("report_message", {"id": reported, "reason": "x"})["error"]["code"] == "unknown_message"
    # (alice wrote it: her deletion is an author's, the resolution says it deleted)
    assert [(row[1], row[4]["deleted"]) for row in audit_rows(app)] == [
        ("resolve_report", False),
        ("resolve_report", True),
    ]


@pytest.mark.parametrize(
    "payload, code",
    [
        ({"reason": "x"}, "missing_field"),
        ({"id": "1", "reason": "x"}, "invalid_type"),
        ({"id": 1}, "missing_field"),
        ({"id": 1, "reason": 5}, "invalid_type"),
        ({"id": 1, "reason": "  "}, "empty_field"),
        ({"id": 1, "reason": "a\x00b"}, "invalid_text"),
        ({"id": 1, "reason": "\udfff"}, "invalid_text"),
        ({"id": 1, "reason": "x" * 1001}, "too_long"),
        ({"id": 1, "reason": {"nested": ["deep"]}}, "invalid_type"),
        ("not an object", "invalid_payload"),
    ],
)
def test_hostile_reports_are_clear_errors(app, team, payload, code):
    _, bob, _ = team
    reply = bob.call("report_message", payload)
    assert reply["ok"] is False and reply["error"]["code"] == code
    with app.app_context():
        assert db.session.execute(select(Report)).first() is None


def test_the_audit_log_pages(make_app):
    app = make_app(CHAT_ADMIN_PAGE_SIZE=2)
    alice, bob = Person(app, "alice"), Person(app, "bob")
    make_admin(app, "alice")
    bob_id = ids(app, User, name="bob")
    for action in ("mute", "unmute", "deactivate", "reactivate", "mute"):
        assert api(alice, "users", bob_id, action, {"minutes": 1}).status_code == 200
    first = alice.http.get("/api/admin/audit").json
    assert [r["action"] for r in first["audit"]] == ["mute", "reactivate"] and first["has_more"]
    last = alice.http.get("/api/admin/audit?page=3").json
    assert [r["action"] for r in last["audit"]] == ["mute"] and not last["has_more"]
    assert last["audit"][0]["actor"] == "alice" and last["audit"][0]["target"] == "bob"
    assert "reactivate" in alice.http.get("/admin?page=1").get_data(as_text=True)
    alice.close(), bob.close()


def test_the_command_line_deactivates_and_is_audited(app, team):
    _, bob, _ = team
    sock = bob.sock
    runner = app.test_cli_runner()
    result = runner.invoke(args=["chat", "deactivate", "ＢＯＢ"])
    assert result.exit_code == 0 and "bob is deactivated" in result.output
    assert not sock.is_connected()
    assert login(app.test_client(), "bob").status_code == 403
    assert runner.invoke(args=["chat", "deactivate", "--undo", "bob"]).exit_code == 0
    assert login(app.test_client(), "bob").status_code == 302
    assert runner.invoke(args=["chat", "deactivate", "nobody"]).exit_code != 0
    # The operator may take the last admin's right (and give it back): the page may not.
    assert runner.invoke(args=["chat", "admin", "--revoke", "alice"]).exit_code == 0
    assert [(row[0], row[1], row[3]) for row in audit_rows(app)] == [
        ("cli", "deactivate", "bob"),
        ("cli", "reactivate", "bob"),
        ("cli", "revoke_admin", "alice"),
    ]


def test_the_chat_page_links_settings_for_everyone_and_administration_for_admins(app, team):
    alice, bob, _ = team
    admin_page = alice.http.get("/?lang=en").get_data(as_text=True)
    member_page = bob.http.get("/?lang=ja").get_data(as_text=True)
    assert 'id="settings-link" href="/settings"' in admin_page and 'id="admin-link" href="/admin"' in admin_page
    assert 'id="settings-link" href="/settings"' in member_page and "設定" in member_page
    assert "admin-link" not in member_page
