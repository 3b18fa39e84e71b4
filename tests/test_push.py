"""Web Push (chat/push): subscriptions over HTTP, delivery to a fake push service on 127.0.0.1
that decrypts each push with the subscription's keys, the service worker and the manifest."""

import base64
import json
import time

import http_ece
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from sqlalchemy import select

from chat.config import ConfigError
from chat.extensions import db
from chat.push import keys
from chat.push.models import PushSubscription
from tests.push_service import PushService
from tests.test_everyday import Person

WAIT_FOR_NOTHING = 1.0  # seconds a test waits to see that no (further) push comes


@pytest.fixture
def service():
    found = PushService()
    yield found
    found.close()


def csrf_of(person):
    page = person.http.get("/").get_data(as_text=True)
    start = page.index('<script id="settings" type="application/json">') + len(
        '<script id="settings" type="application/json">'
    )
    return json.loads(page[start : page.index("</script>", start)])["csrfToken"]


def subscribe(person, body, csrf=True):
    headers = {"X-CSRFToken": csrf_of(person)} if csrf else {}
    return person.http.post("/api/push/subscriptions", json=body, headers=headers)


def unsubscribe(person, endpoint):
    return person.http.delete(
        "/api/push/subscriptions", json={"endpoint": endpoint}, headers={"X-CSRFToken": csrf_of(person)}
    )


def subscriptions(app, user_name=None):
    with app.app_context():
        return [s.endpoint for s in db.session.execute(select(PushSubscription)).scalars()]


def open_dm(sender, peer):
    reply = sender.call("open_dm", {"user": peer.name})
    assert reply["ok"], reply
    return reply["room"]["name"] if isinstance(reply["room"], dict) else reply["room"]


def b64decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check_vapid(push, app):
    """The Authorization header: a JWT for the push service's origin, signed with the server's key."""
    scheme, _, rest = push["headers"]["authorization"].partition(" ")
    assert scheme == "vapid"
    fields = dict(part.strip().split("=", 1) for part in rest.split(","))
    with app.app_context():
        assert fields["k"] == keys.public_key_of(keys.vapid(app))
    head, claims, signature = fields["t"].split(".")
    raw = b64decode(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64decode(fields["k"]))
    public.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))  # raises when forged
    claims = json.loads(b64decode(claims))
    assert claims["aud"].startswith("http://127.0.0.1:") and claims["exp"] > time.time()


def test_a_dm_reaches_each_subscription_of_a_user_without_sockets_once(app, people, service):
    alice, bob = people("alice"), people("bob")
    laptop, phone = service.browser("bob-laptop"), service.browser("bob-phone")
    assert subscribe(bob, laptop.subscription()).status_code == 201
    assert subscribe(bob, phone.subscription()).status_code == 201
    room = open_dm(alice, bob)
    text = "明日の会議は 10 時からです。" + "x" * 300
    assert alice.call("room_message", {"room": room, "message": text})["ok"]
    for browser in (laptop, phone):
        [push] = service.wait_for(browser.path)
        assert push["headers"]["content-encoding"] == "aes128gcm" and int(push["headers"]["ttl"]) > 0
        check_vapid(push, app)
        shown = browser.decrypt(push)  # decryptable with this browser's keys only
        assert shown["title"] == "alice"
        assert shown["body"].startswith("明日の会議は 10 時からです。") and shown["body"].endswith("…")
        assert len(shown["body"]) == app.config["CHAT_PUSH_EXCERPT"]
        assert shown["url"] == "/?room=" + room.replace(":", "%3A") and shown["room"] == room
        assert "x" * 300 not in push["body"].decode("latin-1")  # encrypted on the wire
    with pytest.raises(http_ece.ECEException):  # not with another browser's keys
        phone.decrypt(service.received(laptop.path)[0])
    time.sleep(WAIT_FOR_NOTHING)
    assert len(service.pushes) == 2  # exactly once per subscription


def test_no_push_while_the_user_has_an_open_socket(app, people, service):
    alice, bob = people("alice"), people("bob")
    browser = service.browser("bob")
    assert subscribe(bob, browser.subscription()).status_code == 201
    bob.socket()
    room = open_dm(alice, bob)
    assert alice.call("room_message", {"room": room, "message": "are you there?"})["ok"]
    time.sleep(WAIT_FOR_NOTHING)
    assert service.pushes == []
    bob.close()  # every socket closed: the next one is pushed
    assert alice.call("room_message", {"room": room, "message": "guess not"})["ok"]
    [push] = service.wait_for(browser.path)
    assert browser.decrypt(push)["body"] == "guess not"


def test_mentions_in_rooms_are_pushed_other_messages_and_muted_rooms_are_not(app, people, service):
    alice, bob, carol = people("alice"), people("bob"), people("carol")
    for person in (alice, bob, carol):
        assert person.call("join_room", {"room": "general"})["ok"]
    bob_browser, carol_browser = service.browser("bob"), service.browser("carol")
    assert subscribe(bob, bob_browser.subscription()).status_code == 201
    assert subscribe(carol, carol_browser.subscription()).status_code == 201
    assert carol.call("set_notification_level", {"room": "general", "level": "nothing"})["ok"]
    bob.close()
    carol.close()
    assert alice.call("room_message", {"room": "general", "message": "no one named here"})["ok"]
    assert alice.call("room_message", {"room": "general", "message": "@bob @carol lunch?"})["ok"]
    [push] = service.wait_for(bob_browser.path)
    assert bob_browser.decrypt(push) | {"id": 0} == {
        "title": "alice",
        "body": "@bob @carol lunch?",
        "url": "/?room=general",
        "room": "general",
        "id": 0,
        "reason": "mention",
    }
    time.sleep(WAIT_FOR_NOTHING)
    assert len(service.pushes) == 1  # carol said "nothing" for general; the plain message went to no one


def test_a_subscription_answered_410_or_404_is_removed(app, people, service):
    alice, bob = people("alice"), people("bob")
    gone, missing, fine = service.browser("gone"), service.browser("missing"), service.browser("fine")
    service.status[gone.path], service.status[missing.path] = 410, 404
    service.status[fine.path] = 500  # a hiccup: kept
    for browser in (gone, missing, fine):
        assert subscribe(bob, browser.subscription()).status_code == 201
    room = open_dm(alice, bob)
    assert alice.call("room_message", {"room": room, "message": "hello"})["ok"]
    for browser in (gone, missing, fine):
        service.wait_for(browser.path)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(subscriptions(app)) > 1:
        time.sleep(0.05)
    assert subscriptions(app) == [fine.endpoint]


def test_unsubscribing_stops_pushes_and_touches_only_ones_own(app, people, service):
    alice, bob = people("alice"), people("bob")
    browser = service.browser("bob")
    assert subscribe(bob, browser.subscription()).status_code == 201
    assert unsubscribe(alice, browser.endpoint).get_json() == {"ok": True, "removed": False}
    assert subscriptions(app) == [browser.endpoint]
    assert unsubscribe(bob, browser.endpoint).get_json() == {"ok": True, "removed": True}
    room = open_dm(alice, bob)
    assert alice.call("room_message", {"room": room, "message": "hello"})["ok"]
    time.sleep(WAIT_FOR_NOTHING)
    assert service.pushes == []


def test_a_browser_signed_in_by_someone_else_moves_to_them(app, people, service):
    alice, bob = people("alice"), people("bob")
    browser = service.browser("shared")
    assert subscribe(bob, browser.subscription()).status_code == 201
    assert subscribe(alice, browser.subscription()).status_code == 201
    room = open_dm(alice, bob)
    assert alice.call("room_message", {"room": room, "message": "for bob only"})["ok"]
    time.sleep(WAIT_FOR_NOTHING)
    assert service.pushes == []  # the browser is alice's now: bob's DM is not shown there


def valid(service):
    return service.browser("x").subscription()


HOSTILE = [
    ("not an object", ["https://push.example/1"], "invalid_payload"),
    ("no endpoint", {"keys": {}}, "invalid_subscription"),
    ("endpoint a number", {"endpoint": 5}, "invalid_subscription"),
    ("javascript URL", {"endpoint": "javascript:alert(1)"}, "invalid_subscription"),
    ("file URL", {"endpoint": "file:///etc/passwd"}, "invalid_subscription"),
    ("control character", {"endpoint": "https://push.example/a\r\nX-Evil: 1"}, "invalid_subscription"),
    ("NUL", {"endpoint": "https://push.example/\x00"}, "invalid_subscription"),
    ("lone surrogate", {"endpoint": "https://push.example/\ud800"}, "invalid_subscription"),
    ("bidi override", {"endpoint": "https://push.example/\u202e"}, "invalid_subscription"),
    ("user and password", {"endpoint": "https://user:pw@push.example/1"}, "invalid_subscription"),
    ("no host", {"endpoint": "https:///1"}, "invalid_subscription"),
    ("bad port", {"endpoint": "https://push.example:99999/1"}, "invalid_subscription"),
    ("huge", {"endpoint": "https://push.example/" + "a" * 100_000}, "invalid_subscription"),
    ("keys missing", {"endpoint": "https://push.example/1"}, "invalid_subscription"),
    (
        "keys nested",
        {"endpoint": "https://push.example/1", "keys": {"p256dh": {"a": [1]}, "auth": "x"}},
        "invalid_subscription",
    ),
    (
        "p256dh not base64",
        {"endpoint": "https://push.example/1", "keys": {"p256dh": "!!!", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}},
        "invalid_subscription",
    ),
    (
        "p256dh not a point",
        {"endpoint": "https://push.example/1", "keys": {"p256dh": "BA" + "A" * 85, "auth": "AAAAAAAAAAAAAAAAAAAAAA"}},
        "invalid_subscription",
    ),
]


@pytest.mark.parametrize(("body", "code"), [(b, c) for _, b, c in HOSTILE], ids=[n for n, _, _ in HOSTILE])
def test_hostile_subscriptions_get_clear_errors(app, people, body, code):
    bob = people("bob")
    reply = subscribe(bob, body)
    assert reply.status_code == 400, reply.get_data(as_text=True)
    assert reply.get_json()["error"]["code"] == code
    assert subscriptions(app) == []


def test_keys_of_the_wrong_size_and_the_per_user_cap(make_app, service):
    app = make_app(CHAT_PUSH_MAX_SUBSCRIPTIONS=2)
    bob = Person(app, "bob")
    try:
        body = service.browser("short").subscription()
        body["keys"]["auth"] = body["keys"]["auth"][:10]
        reply = subscribe(bob, body)
        assert reply.status_code == 400 and "16 bytes" in reply.get_json()["error"]["message"]
        for n in range(2):
            assert subscribe(bob, service.browser(f"b{n}").subscription()).status_code == 201
        assert subscribe(bob, service.browser("b0").subscription()).status_code == 201  # the same browser again
        reply = subscribe(bob, service.browser("b3").subscription())
        assert reply.status_code == 400 and reply.get_json()["error"]["code"] == "too_many_subscriptions"
    finally:
        bob.close()


def test_production_takes_https_push_services_only(make_app, service):
    app = make_app(CHAT_ENV="production")
    bob = Person(app, "bob")
    try:
        body = service.browser("b").subscription()
        reply = subscribe(bob, body)  # http://127.0.0.1
        assert reply.status_code == 400 and "https" in reply.get_json()["error"]["message"]
        body["endpoint"] = "https://127.0.0.1/push/b"  # an address inside the network: not a push service
        assert subscribe(bob, body).get_json()["error"]["code"] == "invalid_subscription"
        body["endpoint"] = "https://fcm.googleapis.com.evil.example/fcm/send/1"
        assert subscribe(bob, body).get_json()["error"]["code"] == "invalid_subscription"
        body["endpoint"] = "https://fcm.googleapis.com/fcm/send/abc"
        assert subscribe(bob, body).status_code == 201
    finally:
        bob.close()


def test_who_may_subscribe(app, people, service):
    client = app.test_client()
    reply = client.post("/api/push/subscriptions", json=valid(service))
    assert reply.status_code in (400, 401)  # no session: no CSRF token either
    assert client.get("/api/push/key").get_json()["error"]["code"] == "unauthorized"
    bob = people("bob")
    reply = subscribe(bob, valid(service), csrf=False)
    assert reply.status_code == 400 and reply.get_json()["error"]["code"] == "invalid_csrf"
    key = bob.http.get("/api/push/key").get_json()["publicKey"]
    assert len(b64decode(key)) == 65 and b64decode(key)[0] == 4


def test_vapid_keys_from_the_environment_file_and_command(make_app, tmp_path, monkeypatch):
    made = keys.new_keys()
    app = make_app(CHAT_VAPID_PRIVATE_KEY=keys.raw_private_key(made), CHAT_VAPID_PUBLIC_KEY=keys.public_key_of(made))
    with app.app_context():
        assert keys.public_key_of(keys.vapid()) == keys.public_key_of(made)
    with pytest.raises(ConfigError, match="does not belong"):
        keys.load(app.config | {"CHAT_VAPID_PUBLIC_KEY": keys.public_key_of(keys.new_keys())})
    with pytest.raises(ConfigError, match="P-256 private key"):
        keys.load(app.config | {"CHAT_VAPID_PRIVATE_KEY": "not a key"})
    path = tmp_path / "vapid.pem"
    app = make_app(CHAT_VAPID_FILE=str(path))
    result = app.test_cli_runner().invoke(args=["chat", "vapid-keys"])
    assert result.exit_code == 0, result.output
    assert path.stat().st_mode & 0o077 == 0  # the owner's only
    with app.app_context():
        assert f"public key: {keys.public_key_of(keys.vapid())}" in result.output
    again = app.test_cli_runner().invoke(args=["chat", "vapid-keys"])
    assert again.exit_code != 0 and "exists" in again.output
    printed = app.test_cli_runner().invoke(args=["chat", "vapid-keys", "--env"]).output
    assert printed.startswith("CHAT_VAPID_PRIVATE_KEY=") and "CHAT_VAPID_PUBLIC_KEY=" in printed
    first_start = make_app(CHAT_VAPID_FILE=str(tmp_path / "new" / "vapid.pem"))
    with first_start.app_context():
        keys.vapid()
    assert (tmp_path / "new" / "vapid.pem").exists()


def test_service_worker_and_manifest(app):
    client = app.test_client()
    worker = client.get("/sw.js")
    assert worker.status_code == 200 and worker.headers["Service-Worker-Allowed"] == "/"
    assert (
        worker.headers["Content-Type"].startswith("text/javascript") and "no-cache" in worker.headers["Cache-Control"]
    )
    assert "script-src 'self'" in worker.headers["Content-Security-Policy"]
    assert b"notificationclick" in worker.data
    manifest = client.get("/manifest.webmanifest")
    assert manifest.headers["Content-Type"] == "application/manifest+json"
    body = manifest.get_json()
    assert body["start_url"] == "/" and body["display"] == "standalone"
    for icon in body["icons"]:
        assert client.get(icon["src"]).status_code == 200
    assert {icon["sizes"] for icon in body["icons"]} == {"192x192", "512x512"}


def test_the_thread_hook_and_a_dm_set_to_mentions(app, people, service):
    from chat.push.deliver import notify_thread_reply
    from chat.rooms.access import find_room, ref_for

    alice, bob, carol = people("alice"), people("bob"), people("carol")
    for person in (alice, bob, carol):
        assert person.call("join_room", {"room": "general"})["ok"]
    browsers = {p.name: service.browser(p.name) for p in (alice, bob, carol)}
    for p in (alice, bob, carol):
        assert subscribe(p, browsers[p.name].subscription()).status_code == 201
    room = open_dm(alice, bob)
    assert bob.call("set_notification_level", {"room": room, "level": "mentions"})["ok"]
    for p in (alice, bob, carol):
        p.close()
    with app.test_request_context():
        ref = ref_for(find_room("general"))
        reply = {"id": 99, "text": "a reply in the thread", "user": {"id": 1, "name": "alice"}}
        notify_thread_reply(ref, reply, [1, 3])  # alice wrote it: only carol hears
    [push] = service.wait_for(browsers["carol"].path)
    assert browsers["carol"].decrypt(push)["reason"] == "thread"
    sent = alice.call("room_message", {"room": room, "message": "bob set this DM to mentions"}, alice.socket())
    assert sent["ok"]
    time.sleep(WAIT_FOR_NOTHING)
    assert [p["path"] for p in service.pushes] == [browsers["carol"].path]
