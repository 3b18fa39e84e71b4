"""Accounts: register, log in, log out, guests; and who a socket connection is."""
import logging
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_socketio import ConnectionRefusedError
from flask_wtf import FlaskForm
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from .errors import http_error
from .extensions import db, login_manager
from .i18n import page_language, strings
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


@bp.before_app_request
def refuse_ended_session():
    """A cookie whose session was ended: forget it; the HTTP API answers 401, pages carry on as
    for a visitor without a session (the chat page sends them to the login form)."""
    if "_user_id" not in session or current_user.is_authenticated:
        return None
    session.clear()
    if request.path.startswith("/api/"):
        return http_error(401, "unauthorized", "Your session has ended; log in again.")
    return None


def name_key(name):
    return name.strip().casefold()


def valid_name(form, field):
    name = (field.data or "").strip()
    limit = current_app.config["CHAT_MAX_NAME_LENGTH"]
    if not name or len(name) > limit:
        raise ValidationError(f"1–{limit} characters.")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise ValidationError("No control characters.")


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
    """A new account (or guest when password is None); None when the name is taken."""
    name = name.strip()
    user = User(
        name=name,
        name_key=name_key(name),
        password_hash=generate_password_hash(password) if password is not None else None,
        is_guest=password is None,
    )
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    return user


def authenticate(name, password):
    user = db.session.execute(db.select(User).filter_by(name_key=name_key(name))).scalar_one_or_none()
    if user is None or user.password_hash is None or not check_password_hash(user.password_hash, password):
        return None
    return user


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
    user = authenticate(form.name.data, form.password.data)
    if user is None:
        form.password.errors.append(strings(page_language()[0])["bad_login"])
        return render_login(401, login_form=form)
    sign_in(user)
    log.info("login user=%s", user.id)
    return redirect(safe_next(request.form.get("next")))


@bp.post("/register")
def register():
    form = RegisterForm(prefix="register")
    if not form.validate_on_submit():
        return render_login(400, register_form=form)
    user = create_user(form.name.data, form.password.data)
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
