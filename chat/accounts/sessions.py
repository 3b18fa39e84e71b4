"""Sessions: who a request or a socket is, passwords checked off the loop, sessions that end everywhere."""

import secrets

from flask import session
from flask_login import current_user, login_user
from flask_socketio import ConnectionRefusedError
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from ..blocking import run_blocking
from ..cluster.queue import disconnect_room
from ..extensions import db, login_manager
from ..models import User
from ..names import name_key
from ..rooms.access import user_channel

# The session key holding the generation a session was issued in (see User.session_generation).
GENERATION_KEY = "session_generation"


@login_manager.user_loader
def load_user(user_id):
    """The session's user, unless the session was issued before the user's sessions were ended.

    Every HTTP request and every socket connect (which reads the same cookie) comes through here.
    A session from before session generations existed counts as generation 0.
    """
    try:
        user = db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        return None
    if user is None or session.get(GENERATION_KEY, 0) != user.session_generation:
        return None
    if not user.is_active:  # deactivated (chat/admin): no session of theirs counts, on any node
        return None
    return user


def session_still_current(user_id):
    """Whether this request's session is still of the user's current generation, read afresh
    (a logout may have committed since load_user read the user at the start of the request)."""
    generation = db.session.execute(
        db.select(User.session_generation).where(User.id == user_id).execution_options(populate_existing=True)
    ).scalar_one_or_none()
    return generation is not None and session.get(GENERATION_KEY, 0) == generation


def sign_in(user):
    """Start a session for this user, in the user's current session generation."""
    login_user(user)
    session[GENERATION_KEY] = user.session_generation


def end_sessions(user):
    """End every session of this user: cookies issued before now get nothing on any node (they
    share the database), and the user's sockets close on every node. Logout calls it; so will a
    password change or a deactivation."""
    user_id = user.id
    db.session.execute(db.update(User).where(User.id == user_id).values(session_generation=User.session_generation + 1))
    db.session.commit()
    disconnect_user(user_id)


def set_password(user, password):
    """Give the user a new password and end every session they have (a password change, a reset)."""
    password_hash = run_blocking(generate_password_hash, password)
    user.password_hash = password_hash
    user.is_guest = False
    end_sessions(user)  # commits the new hash with the new generation's update


def create_user(name, password=None):
    """A new account (or guest when password is None); None when the name is taken.

    The password is hashed off the event loop (raises blocking.Busy when that is full)."""
    name = name.strip()
    password_hash = None
    if password is not None:
        release_connection()
        password_hash = run_blocking(generate_password_hash, password)
    key = name_key(name)
    if db.session.execute(db.select(User.id).filter_by(display_name_key=key).limit(1)).first() is not None:
        return None  # someone's display name: a new login name may not look like it either
    user = User(name=name, name_key=key, password_hash=password_hash, is_guest=password is None)
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    return user


def authenticate(name, password):
    """The user with this name and password, or None.

    The hash is checked off the event loop (raises blocking.Busy when that is full). A name
    without a password (unknown, or a guest) is checked against a dummy hash, so that the answer
    takes as long as for a real account: the timing tells no one which names exist.
    """
    user = db.session.execute(db.select(User).filter_by(name_key=name_key(name))).scalar_one_or_none()
    stored = user.password_hash if user is not None else None
    release_connection()
    dummy = dummy_hash()  # made at the first login of the process, whichever name it is for
    matches = run_blocking(check_password_hash, stored or dummy, password)
    return user if matches and stored else None


def dummy_hash():
    """A hash made like the real ones (werkzeug's current scrypt settings), of a password no one knows."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = run_blocking(generate_password_hash, secrets.token_urlsafe(24))
    return _dummy_hash


_dummy_hash = None


def release_connection():
    """End the read transaction before a long wait, so the hash does not hold a pooled database
    connection (many logins waiting at once would otherwise empty the pool for everyone)."""
    db.session.rollback()


def disconnect_user(user_id):
    """Close every socket of this user, on every node (through the message queue's control channel)."""
    disconnect_room(user_channel(user_id))


def anonymous_identity(sid):
    """A client without a session (the seed's own client, a script): a guest named by its sid."""
    return {"id": None, "name": f"guest-{sid[:6]}", "guest": True}


def connection_identity(sid):
    """Who this connection is, decided once at connect and kept in the connection's session."""
    if current_user.is_authenticated:
        return current_user.public()
    if "_user_id" in session:  # a session that was ended (logout): not a guest either
        raise ConnectionRefusedError("session_ended")
    return anonymous_identity(sid)
