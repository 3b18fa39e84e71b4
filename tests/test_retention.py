"""Retention: old messages and their files pruned by `flask chat prune` and by the periodic job,
which one node runs at a time."""

import os
import threading
from datetime import timedelta
from io import BytesIO

import pytest
from sqlalchemy import text, update

from chat.extensions import db, socketio
from chat.models import Message, Upload, utc_now
from chat.retention.job import job_lock, prune_loop, prune_once, redis_lock
from chat.uploads.files import file_path
from tests.cluster import redis_up
from tests.conftest import TEST_DB
from tests.data_helpers import bearer, make_token, signed_in


def age(app, message_ids, days):
    """Make these messages `days` old."""
    with app.app_context():
        db.session.execute(
            update(Message).where(Message.id.in_(message_ids)).values(created_at=utc_now() - timedelta(days=days))
        )
        db.session.commit()


def stored_ids(app):
    with app.app_context():
        return set(db.session.execute(db.select(Message.id)).scalars())


def say(sock, room, text):
    if room is None:
        return sock.emit("send_message", {"message": text}, callback=True)["id"]
    return sock.emit("room_message", {"room": room, "message": text}, callback=True)["id"]


@pytest.fixture
def world(make_app):
    app = make_app(CHAT_RETENTION_DAYS=30)
    alice = signed_in(app, "alice")
    sock = socketio.test_client(app, flask_test_client=alice)
    for room in ("general", "short"):
        assert sock.emit("join_room", {"room": room}, callback=True)["ok"]
    yield app, alice, sock
    sock.disconnect()


def test_prune_follows_the_global_and_the_rooms_retention(world):
    app, alice, sock = world
    old_global, new_global = say(sock, None, "old global"), say(sock, None, "new global")
    old_general, new_general = say(sock, "general", "old apple"), say(sock, "general", "new apple")
    short_old, short_new = say(sock, "short", "three days"), say(sock, "short", "today")
    age(app, [old_global, old_general], 31)
    age(app, [new_global, new_general, short_old], 3)
    # "short" keeps 2 days: the smaller of its own and the global 30.
    response = alice.patch("/api/rooms/short", json={"retention_days": 2}, headers={"X-CSRFToken": csrf(alice)})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["effective_days"] == 2
    result = app.test_cli_runner().invoke(args=["chat", "prune"])
    assert result.exit_code == 0, result.output
    assert "pruned 3 messages and 0 files" in result.output
    assert "general: 1" in result.output and "short: 1" in result.output and "(everyone): 1" in result.output
    assert stored_ids(app) == {new_global, new_general, short_new}
    # Gone from history, search and `since` catch-up; the ids after them still come.
    history = alice.get("/api/rooms/general/messages").get_json()["messages"]
    assert [m["id"] for m in history] == [new_general]
    found = sock.emit("search", {"q": "apple"}, callback=True)["results"]
    assert [m["id"] for m in found] == [new_general]
    since = sock.emit("get_history", {"room": "short", "since": 0}, callback=True)
    assert [m["id"] for m in since["messages"]] == [short_new]
    later = say(sock, "short", "after the prune")
    since = sock.emit("get_history", {"room": "short", "since": short_old}, callback=True)
    assert [m["id"] for m in since["messages"]] == [short_new, later]


def csrf(client):
    from tests.data_helpers import page_csrf

    return page_csrf(client, "/settings/tokens")


def test_a_pruned_uploads_file_goes_from_disk_and_database(world):
    app, alice, sock = world
    token = make_token(alice)
    script = app.test_client()
    sent = script.post(
        "/api/uploads",
        data={"file": (BytesIO(b"old notes\n"), "notes.txt"), "room": "general"},
        headers=bearer(token),
        content_type="multipart/form-data",
    )
    assert sent.status_code == 201, sent.get_json()
    message = sent.get_json()["message"]
    with app.app_context():
        upload = db.session.execute(db.select(Upload)).scalar_one()
        path = file_path(upload.token)
    assert os.path.exists(path)
    age(app, [message["id"]], 40)
    with app.app_context():
        result = prune_once()
        assert (result.messages, result.files) == (1, 1)
        assert db.session.execute(db.select(Upload)).first() is None
    assert not os.path.exists(path)
    assert alice.get(message["file"]["url"]).status_code == 404


def test_without_a_retention_nothing_is_pruned(make_app):
    app = make_app()
    alice = signed_in(app, "alice")
    sock = socketio.test_client(app, flask_test_client=alice)
    ids = [say(sock, None, "kept for ever")]
    age(app, ids, 3650)
    with app.app_context():
        assert prune_once().messages == 0
    assert stored_ids(app) == set(ids)
    sock.disconnect()


def test_only_the_rooms_creator_sets_its_retention(world):
    app, alice, sock = world
    assert sock.emit("create_room", {"room": "mine"}, callback=True)["ok"]
    bob = signed_in(app, "bob")
    refused = bob.patch("/api/rooms/mine", json={"retention_days": 1}, headers={"X-CSRFToken": csrf(bob)})
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"
    no_csrf = alice.patch("/api/rooms/mine", json={"retention_days": 1})
    assert no_csrf.get_json()["error"]["code"] == "invalid_csrf"
    anonymous = app.test_client().patch("/api/rooms/mine", json={"retention_days": 1})
    assert anonymous.status_code in (400, 401)
    ok = alice.patch("/api/rooms/mine", json={"retention_days": None}, headers={"X-CSRFToken": csrf(alice)})
    assert ok.get_json() == {"ok": True, "room": "mine", "retention_days": None, "effective_days": 30}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"retention_days": 0}, "out_of_range"),
        ({"retention_days": 10**30}, "out_of_range"),
        ({"retention_days": True}, "invalid_type"),
        ({"retention_days": "7"}, "invalid_type"),
        ({"retention_days": 1.5}, "invalid_type"),
        ({"retention_days": [[[[7]]]]}, "invalid_type"),
        ({}, "missing_field"),
        ("7", "invalid_payload"),
    ],
)
def test_hostile_retention_values_get_clear_errors(world, body, code):
    app, alice, sock = world
    assert sock.emit("create_room", {"room": "mine"}, callback=True)["ok"]
    response = alice.patch("/api/rooms/mine", json=body, headers={"X-CSRFToken": csrf(alice)})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == code


@pytest.mark.parametrize("room", ["nope", "a%00b", "%ED%A0%80", "dm:1:2"])
def test_unknown_or_hostile_room_names(world, room):
    app, alice, _ = world
    response = alice.patch(f"/api/rooms/{room}", json={"retention_days": 3}, headers={"X-CSRFToken": csrf(alice)})
    assert response.status_code in (400, 404)
    assert response.get_json()["error"]["code"] in ("unknown_room", "invalid_text")


def test_two_nodes_contend_for_the_lock_and_one_prunes(make_app, tmp_path):
    """Two app instances on one database (two "nodes"): while one holds the job's lock (PostgreSQL's
    advisory lock, or the process' lock on SQLite), the other's round skips; then it may prune."""
    shared = {} if TEST_DB == "postgresql" else {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'chat.db'}"}
    first, second = make_app(CHAT_RETENTION_DAYS=1, **shared), make_app(CHAT_RETENTION_DAYS=1, **shared)
    alice = signed_in(first, "alice")
    sock = socketio.test_client(first, flask_test_client=alice)
    ids = [say(sock, None, "old")]
    age(first, ids, 2)
    with first.app_context(), job_lock() as taken:
        assert taken
        with second.app_context():
            assert prune_once() is None  # the other node holds it
        assert stored_ids(first) == set(ids)
    with second.app_context():
        assert prune_once().messages == 1
    sock.disconnect()


def test_the_advisory_lock_is_held_by_one_connection_at_a_time(make_app):
    app = make_app()
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("PostgreSQL's advisory lock (CHAT_TEST_DB=postgresql)")
        with db.engine.connect() as other:  # another node's session holding the lock
            other.execute(text("SELECT pg_advisory_lock(:key)"), {"key": 0x63686174_70727565})
            assert prune_once() is None
            other.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": 0x63686174_70727565})
        assert prune_once() is not None


def test_the_redis_lock_has_one_holder_and_only_the_holder_releases_it():
    url = os.environ.get("CHAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    if not redis_up():
        pytest.skip("Redis is not running")
    key = f"test-prune-lock-{os.getpid()}"
    with redis_lock(url, key, 10_000) as first:
        assert first
        with redis_lock(url, key, 10_000) as second:
            assert not second
    with redis_lock(url, key, 10_000) as again:
        assert again


def test_the_periodic_job_prunes(make_app):
    app = make_app(CHAT_RETENTION_DAYS=1, CHAT_PRUNE_INTERVAL=0.05)
    alice = signed_in(app, "alice")
    sock = socketio.test_client(app, flask_test_client=alice)
    ids = [say(sock, None, "old"), say(sock, None, "older")]
    fresh = say(sock, None, "fresh")
    age(app, ids, 5)
    worker = threading.Thread(target=prune_loop, args=(app, 2))
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive()
    assert stored_ids(app) == {fresh}
    sock.disconnect()


def test_the_settings_come_from_the_environment(monkeypatch):
    from chat.config import Config, ConfigError

    monkeypatch.setenv("CHAT_RETENTION_DAYS", "90")
    monkeypatch.setenv("CHAT_PRUNE_INTERVAL", "600")
    monkeypatch.setenv("CHAT_DELETED_USER_MESSAGES", "ERASE")
    config = Config()
    assert (config.CHAT_RETENTION_DAYS, config.CHAT_PRUNE_INTERVAL, config.CHAT_DELETED_USER_MESSAGES) == (
        90,
        600.0,
        "erase",
    )
    monkeypatch.setenv("CHAT_DELETED_USER_MESSAGES", "shred")
    with pytest.raises(ConfigError, match="CHAT_DELETED_USER_MESSAGES"):
        Config()
    monkeypatch.setenv("CHAT_DELETED_USER_MESSAGES", "keep")
    monkeypatch.setenv("CHAT_RETENTION_DAYS", "-1")
    with pytest.raises(ConfigError, match="CHAT_RETENTION_DAYS"):
        Config()
