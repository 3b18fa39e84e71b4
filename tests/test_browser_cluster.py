"""The page on a node of a cluster, in Debian's chromium: it says when messages are delayed
(the node's Redis is down) and shows what it missed once delivery resumes."""

import uuid

import pytest

from tests import cluster as cl
from tests import servers
from tests.conftest import PG_ADMIN_URL, pg_database, skip_or_fail
from tests.live_client import LiveClient
from tests.test_browser import Pages, browser, expect, expect_message, join  # noqa: F401  (browser: fixture)

pytestmark = pytest.mark.once  # every node runs on PostgreSQL whatever the pass: the SQLite pass runs it

DELAYED = "メッセージの配信が遅れています。再開すると届かなかった分も表示されます。"


@pytest.fixture
def two_nodes(pg_available):
    if pg_available is not True:
        skip_or_fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {pg_available}")
    if not cl.redis_up():
        skip_or_fail(f"Redis is not reachable at {cl.REDIS_URL}")
    database = pg_database(f"chat_cluster_page_{uuid.uuid4().hex[:8]}")
    channel = f"chat-test-{uuid.uuid4().hex[:12]}"
    nodes = []
    try:
        for _ in range(2):
            port = servers.free_port()
            nodes.append(servers.gunicorn("eventlet", port=port, env=cl.node_env(database, channel, port)).start())
        yield nodes
    finally:
        for node in nodes:
            node.stop()
        cl.drop_database(database)


@pytest.mark.serial  # stops the Redis every other test shares
def test_the_page_shows_a_delay_and_then_what_it_missed(browser, two_nodes):  # noqa: F811
    suffix = uuid.uuid4().hex[:6]
    me, room = f"reader-{suffix}", f"news-{suffix}"
    pages = Pages(browser, two_nodes[0].url)
    other = LiveClient(two_nodes[1].url).connect()
    try:
        page = pages.open(user=me)
        expect(page.locator("#status")).to_have_text("接続中")
        expect(page.locator("#delayed")).to_be_hidden()
        join(page, room, me)
        other.call("join_room", {"room": room})
        assert other.call("room_message", {"room": room, "message": "before"})["ok"]
        expect_message(page, f"guest-{other.sid[:6]}", "before")
        try:
            cl.stop_redis()
            expect(page.locator("#delayed")).to_have_text(DELAYED)
            expect(page.locator("#delayed")).to_be_visible()
            # Stored by the other node while nobody can hear it from here.
            assert other.call("room_message", {"room": room, "message": "during"})["ok"]
        finally:
            cl.start_redis()
        expect(page.locator("#delayed")).to_be_hidden(timeout=20_000)
        expect_message(page, f"guest-{other.sid[:6]}", "during")
        assert other.call("room_message", {"room": room, "message": "after"})["ok"]
        expect_message(page, f"guest-{other.sid[:6]}", "after")
        texts = page.locator("#messages > li .text").all_text_contents()
        assert texts == ["before", "during", "after"]
        pages.assert_no_problems()
    finally:
        if not cl.redis_up():
            cl.start_redis()
        other.disconnect()
        pages.close()


def test_the_page_says_so_when_its_node_has_no_queue(browser, live_database):  # noqa: F811
    server = servers.gunicorn(
        "eventlet",
        env={
            "DATABASE_URL": live_database(),
            "CHAT_MESSAGE_QUEUE": "redis://127.0.0.1:1/0",
        },
    ).start(ready=(503,))
    pages = Pages(browser, server.url)
    try:
        page = pages.open(user=f"alone-{uuid.uuid4().hex[:6]}")
        expect(page.locator("#status")).to_have_text("接続中")
        expect(page.locator("#delayed")).to_be_visible()
        expect(page.locator("#delayed")).to_have_text(DELAYED)
        pages.assert_no_problems()
    finally:
        pages.close()
        server.stop()
