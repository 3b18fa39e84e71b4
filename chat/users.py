"""Accounts: register, log in, log out, guests; and who a socket connection is."""
import logging
import math
import secrets
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_socketio import ConnectionRefusedError
from flask_wtf import FlaskForm
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from . import names
from .blocking import Busy, run_blocking
from .errors import ChatError
from .extensions import db, login_manager
from .i18n import page_language, strings
from .login_throttle import from_config as login_throttle_from_config
from .models import User
from .rooms import user_channel

log = logging.getLogger("chat.users")
bp = Blueprint("users", __name__)


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
    db.session.execute(
        db.update(User).where(User.id == user_id).values(session_generation=User.session_generation + 1)
    )
    db.session.commit()
    disconnect_user(user_id)


def set_password(user, password):
    """Give the user a new password and end every session they have (a password change, a reset)."""
    password_hash = run_blocking(generate_password_hash, password)
    user.password_hash = password_hash
    user.is_guest = False
    end_sessions(user)  # commits the new hash with the new generation's update


@bp.before_app_request
def refuse_ended_session():
    """The HTTP API answers 401 to a cookie whose session was ended (not the guests' public view).
    Pages need no check here: they see no user, and the chat page sends them to the login form."""
    if not request.path.startswith("/api/") or "_user_id" not in session or current_user.is_authenticated:
        return None
    session.clear()
    raise ChatError("unauthorized", "Your session has ended; log in again.")


def name_key(name):
    """Two names with one key are one user (chat/names.py)."""
    return names.name_key(name)


def valid_name(form, field):
    """The rule for names (chat/names.py); the field keeps the normalised name."""
    limit = current_app.config["CHAT_MAX_NAME_LENGTH"]
    try:
        field.data = names.checked_name(field.data or "", limit)
    except names.NameRefused as exc:
        text = strings(page_language()[0])
        if exc.reason in ("empty", "too_long"):
            raise ValidationError(text["name_length"].format(limit=limit)) from None
        raise ValidationError(text["name_characters"].format(char=f"U+{ord(exc.char):04X}")) from None


def valid_password(form, field):
    cfg = current_app.config
    if not cfg["CHAT_MIN_PASSWORD_LENGTH"] <= len(field.data or "") <= cfg["CHAT_MAX_PASSWORD_LENGTH"]:
        raise ValidationError(f"{cfg['CHAT_MIN_PASSWORD_LENGTH']}–{cfg['CHAT_MAX_PASSWORD_LENGTH']} characters.")


class LoginForm(FlaskForm):
    name = StringField(validators=[DataRequired(), valid_name])
    password = PasswordField(validators=[DataRequired(), Length(max=1024)])


class RegisterForm(FlaskForm):
    name = StringField(validators=[DataRequired(), valid_name])
    password = PasswordField(validators=[DataRequired(), valid_password])
    confirm = PasswordField(validators=[EqualTo("password", message="Passwords differ.")])


class GuestForm(FlaskForm):
    name = StringField(validators=[DataRequired(), valid_name])


def create_user(name, password=None):
    """A new account (or guest when password is None); None when the name is taken.

    The password is hashed off the event loop (raises blocking.Busy when that is full)."""
    name = name.strip()
    password_hash = None
    if password is not None:
        release_connection()
        password_hash = run_blocking(generate_password_hash, password)
    user = User(name=name, name_key=name_key(name), password_hash=password_hash, is_guest=password is None)
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


def safe_next(target):
    """Where to go after logging in: a path on this site, else the index.

    The check parses what a browser would: it drops tabs and line breaks inside a URL, strips
    leading spaces and control characters, and reads a backslash as a slash; so any of those
    refuses the target, and so does a scheme or a host (`//evil.example`).
    """
    fallback = url_for("pages.index")
    if not isinstance(target, str) or not target.startswith("/") or target.startswith("//"):
        return fallback
    if "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return fallback
    return target


def render_login(status=200, **forms):
    lang, _ = page_language()
    forms.setdefault("login_form", LoginForm(prefix="login"))
    forms.setdefault("register_form", RegisterForm(prefix="register"))
    forms.setdefault("guest_form", GuestForm(prefix="guest"))
    return render_template(
        "login.html", lang=lang, t=strings(lang), allow_guests=current_app.config["CHAT_ALLOW_GUESTS"],
        next=request.values.get("next", ""), **forms,
    ), status


def refuse_form(field, status, message_key, retry_after, **forms):
    """The login page again, with why (in the page's language) and when to retry (Retry-After)."""
    message = strings(page_language()[0])[message_key].format(minutes=math.ceil(retry_after / 60))
    field.errors.append(message)
    body, status = render_login(status, **forms)
    return body, status, {"Retry-After": str(retry_after)}


def login_throttle():
    app = current_app._get_current_object()
    throttle = app.extensions.get("chat_login_throttle")
    if throttle is None:
        throttle = app.extensions.setdefault("chat_login_throttle", login_throttle_from_config(app.config))
    return throttle


@bp.get("/login")
def login_page():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    return render_login()


@bp.post("/login")
def login():
    form = LoginForm(prefix="login")
    if not form.validate_on_submit():
        return render_login(400, login_form=form)
    throttle, account, address = login_throttle(), name_key(form.name.data), request.remote_addr
    wait = throttle.admit(account, address)
    if wait:
        log.info("login throttled for %ss", wait)
        return refuse_form(form.password, 429, "too_many_logins", wait, login_form=form)
    try:
        user = authenticate(form.name.data, form.password.data)
    except Busy:
        return refuse_form(form.password, 503, "login_busy", 1, login_form=form)
    if user is None:
        throttle.failed(account, address)
        form.password.errors.append(strings(page_language()[0])["bad_login"])
        return render_login(401, login_form=form)
    throttle.succeeded(account)
    sign_in(user)
    log.info("login user=%s", user.id)
    return redirect(safe_next(request.form.get("next")))


@bp.post("/register")
def register():
    form = RegisterForm(prefix="register")
    if not form.validate_on_submit():
        return render_login(400, register_form=form)
    try:
        user = create_user(form.name.data, form.password.data)
    except Busy:
        return refuse_form(form.password, 503, "login_busy", 1, register_form=form)
    if user is None:
        form.name.errors.append(strings(page_language()[0])["name_taken"])
        return render_login(409, register_form=form)
    sign_in(user)
    log.info("register user=%s", user.id)
    return redirect(safe_next(request.form.get("next")))


@bp.post("/guest")
def guest():
    if not current_app.config["CHAT_ALLOW_GUESTS"]:
        return render_login(403)
    form = GuestForm(prefix="guest")
    if not form.validate_on_submit():
        return render_login(400, guest_form=form)
    user = create_user(form.name.data)
    if user is None:
        form.name.errors.append(strings(page_language()[0])["name_taken"])
        return render_login(409, guest_form=form)
    sign_in(user)
    log.info("guest user=%s", user.id)
    return redirect(safe_next(request.form.get("next")))


@bp.post("/logout")
@login_required
def logout():
    user_id = current_user.id
    end_sessions(current_user)
    logout_user()
    session.clear()
    log.info("logout user=%s", user_id)
    flash("logged_out")
    return redirect(url_for("users.login_page"))


def disconnect_user(user_id):
    """Close every socket of this user, on every node (through the message queue's control channel)."""
    from .cluster import disconnect_room

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
