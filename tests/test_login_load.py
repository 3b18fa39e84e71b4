"""Ten password guessers against a real server (eventlet, gevent) do not stall everyone else's chat."""

import statistics
import threading
import time

import pytest
import requests

from tests import servers
from tests.accounts import csrf_token, register
from tests.live_client import LiveClient

GUESSERS = 10
SAMPLES = 150


@pytest.fixture(scope="module", params=["eventlet", "gevent"])
def server(request, live_database):
    # The throttle off: every guess costs a full scrypt check, as unthrottled guessing did.
    env = {"DATABASE_URL": live_database(), "CHAT_LOGIN_ACCOUNT_LIMIT": "off", "CHAT_LOGIN_ADDRESS_LIMIT": "off"}
    running = servers.gunicorn(request.param, env=env).start()
    yield running
    running.stop()


def guess_until(url, stop, outcomes):
    """Post wrong passwords for `victim` until told to stop; record each status code."""
    session = requests.Session()
    token = csrf_token(session.get(url + "/login").text, "login")
    while not stop.is_set():
        response = session.post(
            url + "/login",
            allow_redirects=False,
            timeout=30,
            data={
                "login-csrf_token": token,
                "login-name": "victim",
                "login-password": "not the password",
            },
        )
        outcomes.append(response.status_code)


def ack_times(client, count, until=lambda: True, timeout=60):
    """How long each message took to be acked: at least `count` of them, more until `until()` holds,
    as many as `timeout` seconds allow."""
    times, deadline = [], time.monotonic() + timeout
    while (len(times) < count or not until()) and time.monotonic() < deadline:
        started = time.perf_counter()
        ack = client.call("room_message", {"room": "lobby", "message": f"m{len(times)}"})
        times.append(time.perf_counter() - started)
        assert ack["ok"], ack
    return times


def test_other_users_acks_stay_fast_while_ten_clients_guess_passwords(server):
    assert register(requests.Session(), "victim", "the real password", base=server.url).status_code == 302
    chatter = LiveClient(server.url).connect()
    stop, outcomes = threading.Event(), []
    guessers = [
        threading.Thread(target=guess_until, args=(server.url, stop, outcomes), daemon=True) for _ in range(GUESSERS)
    ]
    try:
        assert chatter.call("join_room", {"room": "lobby"})["ok"]
        quiet = ack_times(chatter, 30)
        for thread in guessers:
            thread.start()
        deadline = time.monotonic() + 20
        while len(outcomes) < GUESSERS and time.monotonic() < deadline:  # every guesser is under way
            time.sleep(0.05)
        guessed_before = len(outcomes)
        # Enough acks, and enough guesses meanwhile (each is a full scrypt check) that they overlap.
        loaded = ack_times(chatter, SAMPLES, until=lambda: len(outcomes) - guessed_before >= 3 * GUESSERS)
        guessed_during = len(outcomes) - guessed_before
    finally:
        stop.set()
        for thread in guessers:
            thread.join(30)
        chatter.disconnect()
    median, p90 = statistics.median(loaded), sorted(loaded)[int(0.9 * len(loaded))]
    report = (
        f"acks: median {median * 1000:.1f} ms under load (quiet {statistics.median(quiet) * 1000:.1f} ms), "
        f"p90 {p90 * 1000:.1f} ms; {len(loaded)} acks, {guessed_during} guesses meanwhile"
    )
    print(report)
    assert set(outcomes) == {401}, f"guesses got {set(outcomes)}"
    assert guessed_during >= 3 * GUESSERS, f"the guessers barely ran: {report}"  # the load was real
    assert median < 0.050, report
