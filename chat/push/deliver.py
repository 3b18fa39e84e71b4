"""Pushing a message to the browsers of users who have no open socket.

The send path only enqueues (notify_stored, notify_thread_reply): a bounded queue
(CHAT_PUSH_QUEUE; when full, a push is dropped with a warning, never the message) drained by one
background task per process. There, for each recipient: their notification level for the room
(chat/notify/prefs.py; "nothing" is never pushed), no live connection on any node
(chat/presence/online.py), an active account; then one encrypted POST (RFC 8291 aes128gcm, VAPID
signed, by pywebpush) to each of their subscriptions. Push
services answering 404 or 410 have dropped the subscription: it is removed. The job is enqueued
by the node that stored the message only, so each message is pushed once.
"""

import json
import logging
import queue
import re
from dataclasses import dataclass
from urllib.parse import quote

import requests
from flask import current_app
from pywebpush import WebPushException, webpush
from sqlalchemy import delete, select

from ..extensions import db, socketio
from ..models import Connection, User
from ..notify.prefs import notification_level
from ..presence.online import live_connections
from ..rooms.access import dm_users
from .keys import subject, vapid
from .models import PushSubscription

log = logging.getLogger("chat.push")
GONE = (404, 410)
# The levels (chat/notify/prefs.py) that hear of each reason: a DM is a message like any other
# there (a DM set to "mentions" hears only of mentions), a mention or a followed thread's reply
# of everything but "nothing".
WANTS = {"dm": ("all",), "mention": ("all", "mentions"), "thread": ("all", "mentions")}
SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class PushJob:
    """What one stored message should tell whom."""

    user_ids: tuple
    room_id: int
    room: str
    message_id: int
    sender: str
    text: str
    reason: str  # "dm", "mention" or "thread"


def notify_stored(ref, payload, mentions):
    """After a message is stored and sent: push it to the DM's other person, or the mentioned.
    Never raises: the message is out already, a push is a courtesy."""
    if ref is None or payload.get("id") is None:
        return
    try:
        sender_id = (payload.get("user") or {}).get("id")
        if ref.kind == "dm":
            users, reason = [u for u in dm_users(ref.name) if u != sender_id], "dm"
        else:
            users, reason = [u for u in mentions or () if u != sender_id], "mention"
        enqueue_for(users, ref, payload, reason)
    except Exception:  # noqa: BLE001
        log.exception("message %s could not be queued for push", payload.get("id"))


def notify_thread_reply(ref, payload, follower_ids):
    """A reply in a thread (payload: the stored reply) for its followers: the threads' hook."""
    sender_id = (payload.get("user") or {}).get("id")
    enqueue_for([u for u in follower_ids if u != sender_id], ref, payload, "thread")


def enqueue_for(users, ref, payload, reason):
    if not users or not subscribed(users):
        return
    text = payload.get("text") or ("📎 " + payload["file"]["name"] if payload.get("file") else "")
    sender = (payload.get("user") or {}).get("name") or ""
    job = PushJob(tuple(sorted(set(users))), ref.id, ref.name, payload["id"], sender, text, reason)
    enqueue(current_app._get_current_object(), job)


def subscribed(users):
    """Whether any of `users` has a push subscription: one indexed query, in the sender's request.

    Most messages name nobody with a subscription, and then the background task is never woken
    (nor does it touch the database while the request's transaction is open: with an in-memory
    SQLite database both would share one connection)."""
    query = select(PushSubscription.id).where(PushSubscription.user_id.in_(users)).limit(1)
    return db.session.execute(query).first() is not None


def enqueue(app, job):
    jobs = app.extensions.get("chat_push_queue")
    if jobs is None:
        jobs = app.extensions.setdefault("chat_push_queue", queue.Queue(app.config["CHAT_PUSH_QUEUE"]))
        socketio.start_background_task(drain, app, jobs)
    try:
        jobs.put_nowait(job)
    except queue.Full:
        log.warning("push queue full: message %s not pushed to %s", job.message_id, job.user_ids)


def drain(app, jobs):
    while True:
        job = jobs.get()
        try:
            with app.app_context():
                deliver(job)
        except Exception:  # noqa: BLE001 - one failed push must not end the loop
            log.exception("push of message %s failed", job.message_id)


def recipients(job):
    """The job's users who want it and have no open socket anywhere."""
    wanted = [u for u in job.user_ids if notification_level(u, job.room_id) in WANTS[job.reason]]
    if not wanted:
        return []
    online = live_connections().where(Connection.user_id.in_(wanted)).with_only_columns(Connection.user_id)
    present = set(db.session.execute(online).scalars())
    active = select(User.id).where(User.id.in_(wanted), User.deactivated_at.is_(None))
    return [u for u in db.session.execute(active).scalars() if u not in present]


def message_of(job):
    """The notification's JSON: sender, an excerpt, the conversation to open."""
    limit = current_app.config["CHAT_PUSH_EXCERPT"]
    text = SPACES.sub(" ", job.text).strip()
    excerpt = text if len(text) <= limit else text[: limit - 1] + "…"
    url = "/?room=" + quote(job.room, safe="")
    body = {"title": job.sender, "body": excerpt, "url": url, "room": job.room, "id": job.message_id}
    return json.dumps(body | {"reason": job.reason}, ensure_ascii=False)


def deliver(job):
    users = recipients(job)
    if not users:
        return
    query = select(PushSubscription).where(PushSubscription.user_id.in_(users)).order_by(PushSubscription.id)
    subscriptions = db.session.execute(query).scalars().all()
    data = message_of(job)
    gone = []
    for sub in subscriptions:
        info = {"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}}
        status = send(info, data, current_app.config)
        if status in GONE:
            gone.append(sub.id)
    if gone:
        db.session.execute(delete(PushSubscription).where(PushSubscription.id.in_(gone)))
        db.session.commit()
        log.info("removed %d push subscriptions their push service no longer knows", len(gone))


def send(info, data, config):
    """POST one encrypted push; returns the push service's status (None when unreachable).

    In the queue's background task: under eventlet or gevent its socket I/O yields to the loop
    (the encryption, one ECDH and one AES-GCM pass, takes well under a millisecond)."""
    session = requests.Session()
    session.max_redirects = 0  # a push service answers; it does not send the server elsewhere
    try:
        response = webpush(
            info,
            data,
            vapid_private_key=vapid(),
            vapid_claims={"sub": subject(config)},
            timeout=config["CHAT_PUSH_TIMEOUT"],
            ttl=config["CHAT_PUSH_TTL"],
            requests_session=session,
        )
        return response.status_code
    except WebPushException as exc:
        status = exc.response.status_code if exc.response is not None else None
        log.warning("push service answered %s for a subscription", status)
        return status
    except requests.RequestException as exc:
        log.warning("push service unreachable: %s", type(exc).__name__)
        return None
    finally:
        session.close()
