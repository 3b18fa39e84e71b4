"""Authors' profiles on message payloads and in the online list: `display_name` and `avatar_url`.

A small per-process cache keeps this off the write path's round trips: a user's fields are read
once per CHAT_AUTHOR_CACHE_TTL seconds at most (one query for every author a page misses), and
forgotten at once on this node when the user's profile changes (chat/accounts/profiles.py
`announce`). Another node may show the old fields until its entry expires; the page applies
`user_updated` over what payloads say, so what is on screen is current anyway.
"""

import time

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..models import User

NO_PROFILE = {"display_name": None, "avatar_url": None}


def _cache():
    return current_app.extensions.setdefault("chat_authors", {})


def fields_of(display_name, avatar):
    return {"display_name": display_name, "avatar_url": f"/avatars/{avatar}.png" if avatar else None}


def authors_of(user_ids, connection=None):
    """{user id: {"display_name", "avatar_url"}} for the given ids (None skipped): from the cache,
    the misses in one query through `connection` (else the request's session)."""
    ttl = current_app.config["CHAT_AUTHOR_CACHE_TTL"]
    cache, now = _cache(), time.monotonic()
    found, missing = {}, set()
    for user_id in user_ids:
        if user_id is None:
            continue
        entry = cache.get(user_id)
        if entry is not None and entry[1] > now:
            found[user_id] = entry[0]
        else:
            missing.add(user_id)
    if missing:
        query = select(User.id, User.display_name, User.avatar).where(User.id.in_(sorted(missing)))
        for user_id, display_name, avatar in (connection or db.session).execute(query):
            found[user_id] = fields_of(display_name, avatar)
        for user_id in missing:
            found.setdefault(user_id, NO_PROFILE)
        if ttl > 0:
            if len(cache) > current_app.config["CHAT_AUTHOR_CACHE_SIZE"]:
                cache.clear()  # a crude bound: entries are cheap to read again
            for user_id in missing:
                cache[user_id] = (found[user_id], now + ttl)
    return found


def author_of(user_id, connection=None):
    """One author's fields ({} without an account: such payloads keep `user` as it was)."""
    if user_id is None:
        return {}
    return authors_of([user_id], connection)[user_id]


def forget_author(user_id):
    """The user's profile changed: read it again next time (this node)."""
    _cache().pop(user_id, None)
