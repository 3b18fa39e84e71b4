"""Accounts over HTTP: the login page, register, log in, log out, guests."""

import logging
import math
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from .. import names
from ..blocking import Busy
from ..errors import ChatError
from ..i18n import page_language, strings
from ..names import name_key
from .forms import ForgotForm, valid_password
from .login_throttle import from_config as login_throttle_from_config
from .mail import mail_configured
from .sessions import authenticate, create_user, end_sessions, sign_in
from .texts import texts

log = logging.getLogger("chat.users")
bp = Blueprint("users", __name__)


@bp.before_app_request
def refuse_ended_session():
    """The HTTP API answers 401 to a cookie whose session was ended (not the guests' public view).
    Pages need no check here: they see no user, and the chat page sends them to the login form."""
    if not request.path.startswith("/api/") or "_user_id" not in session or current_user.is_authenticated:
        return None
    session.clear()
    raise ChatError("unauthorized", "Your session has ended; log in again.")


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


class LoginForm(FlaskForm):
    name = StringField(validators=[DataRequired(), valid_name])
    password = PasswordField(validators=[DataRequired(), Length(max=1024)])


class RegisterForm(FlaskForm):
    name = StringField(validators=[DataRequired(), valid_name])
    password = PasswordField(validators=[DataRequired(), valid_password])
    confirm = PasswordField(validators=[EqualTo("password", message="Passwords differ.")])


class GuestForm(FlaskForm):
    name = StringField(validators=[DataRequired(), valid_name])


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
    forms.setdefault("forgot_form", ForgotForm(prefix="forgot"))
    return render_template(
        "login.html",
        lang=lang,
        t=texts(lang),
        allow_guests=current_app.config["CHAT_ALLOW_GUESTS"],
        sso_name=current_app.config["CHAT_OIDC_NAME"] if current_app.config["CHAT_OIDC_ISSUER"] else None,
        sso_only=current_app.config["CHAT_SSO_ONLY"],
        password_reset=mail_configured() and not current_app.config["CHAT_SSO_ONLY"],
        next=request.values.get("next", ""),
        **forms,
    ), status


def refuse_form(field, status, message_key, retry_after, **forms):
    """The login page again, with why (in the page's language) and when to retry (Retry-After)."""
    message = strings(page_language()[0])[message_key].format(minutes=math.ceil(retry_after / 60))
    field.errors.append(message)
    body, status = render_login(status, **forms)
    return body, status, {"Retry-After": str(retry_after)}


def password_forms_off():
    """SSO-only mode (CHAT_SSO_ONLY): password login and registration are refused before any check."""
    flash("sso_only")
    return render_login(403)


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
    if current_app.config["CHAT_SSO_ONLY"]:
        return password_forms_off()
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
    if not user.is_active:  # only after the right password: the answer tells nobody else anything
        form.password.errors.append(strings(page_language()[0])["account_deactivated"])
        return render_login(403, login_form=form)
    sign_in(user)
    log.info("login user=%s", user.id)
    return redirect(safe_next(request.form.get("next")))


@bp.post("/register")
def register():
    if current_app.config["CHAT_SSO_ONLY"]:
        return password_forms_off()
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
