"""The settings page (/settings: profile, avatar, email, password) and the password reset pages
(the forgot form posted from /login, the link's page). Server-rendered, CSRF forms, ja/en."""

import logging
import math
from datetime import timedelta

from flask import Blueprint, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..errors import ChatError
from ..extensions import db
from ..i18n import LANG_COOKIE, page_language
from ..models import User, utc_now
from ..ratelimit import check_user_rate
from .avatars import replace_avatar, set_avatar
from .forms import AvatarForm, EmailForm, ForgotForm, PasswordForm, ProfileForm, RemoveAvatarForm, ResetForm
from .pages import login_throttle
from .passwords import change_email, change_password, request_reset, reset_password, valid_reset
from .profiles import ProfileUpdate, time_zones, update_profile
from .texts import error_text, texts

log = logging.getLogger("chat.settings")
bp = Blueprint("settings", __name__)


def page_texts():
    lang = page_language()[0]
    return lang, texts(lang)


def profile_form(user):
    form = ProfileForm(prefix="profile")
    if request.method == "GET":
        form.display_name.data = user.display_name or ""
        form.status.data = user.current_status() or ""
        form.time_zone.data = user.time_zone or ""
    return form


def render_settings(status=200, **forms):
    lang, t = page_texts()
    user = db.session.get(User, current_user.id)
    forms.setdefault("profile_form", profile_form(user))
    forms.setdefault("avatar_form", AvatarForm(prefix="avatar"))
    forms.setdefault("remove_avatar_form", RemoveAvatarForm(prefix="noavatar"))
    forms.setdefault("email_form", EmailForm(prefix="email", data={"email": user.email or ""}))
    forms.setdefault("password_form", PasswordForm(prefix="password"))
    sso_only = current_app.config["CHAT_SSO_ONLY"]
    page = render_template(
        "settings.html", lang=lang, t=t, user=user, zones=sorted(time_zones()), sso_only=sso_only, **forms
    )
    return page, status


def passwords_off():
    """SSO-only mode (CHAT_SSO_ONLY): no password change, forgot or reset form does anything."""
    if not current_app.config["CHAT_SSO_ONLY"]:
        return None
    lang, t = page_texts()
    return password_page("password_forgot.html", 403, form=None, sent=False, off=t["sso_passwords_off"])


def saved(key):
    flash(key)
    return redirect(url_for("settings.settings_page"))


@bp.get("/settings")
@login_required
def settings_page():
    body, status = render_settings()
    response = make_response(body, status)
    lang, chosen = page_language()
    if chosen:  # ?lang= picked it: remembered, as the chat page does
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax")
    return response


@bp.post("/settings/profile")
@login_required
def save_profile():
    form = ProfileForm(prefix="profile")
    if not form.validate_on_submit():
        return render_settings(400, profile_form=form)
    minutes = int(form.expires.data or 0)
    data = {"status": form.status.data, "time_zone": form.time_zone.data}
    if data["status"] and minutes:
        data["status_expires_at"] = (utc_now() + timedelta(minutes=minutes)).isoformat()
    if not current_user.is_guest:
        data["display_name"] = form.display_name.data
    try:
        check_user_rate(current_user.id)
        update_profile(current_user.id, ProfileUpdate.parse(data))
    except ChatError as exc:
        field = {"invalid_time_zone": form.time_zone}.get(exc.code)
        field = field or (form.status if "'status" in exc.message else form.display_name)
        return field_refused(field, exc, profile_form=form)
    return saved("saved_profile")


@bp.post("/settings/avatar")
@login_required
def save_avatar():
    form = AvatarForm(prefix="avatar")
    if not form.validate_on_submit() or form.file.data is None:
        form.file.errors = [*form.file.errors, error_text(page_language()[0], ChatError("missing_field", "—"))]
        return render_settings(400, avatar_form=form)
    try:
        check_user_rate(current_user.id)
        set_avatar(db.session.get(User, current_user.id), form.file.data.stream)
    except ChatError as exc:
        return field_refused(form.file, exc, avatar_form=form)
    return saved("saved_avatar")


@bp.post("/settings/avatar/remove")
@login_required
def remove_avatar():
    form = RemoveAvatarForm(prefix="noavatar")
    if not form.validate_on_submit():
        return render_settings(400)
    replace_avatar(db.session.get(User, current_user.id), None)
    return saved("removed_avatar")


@bp.post("/settings/email")
@login_required
def save_email():
    form = EmailForm(prefix="email")
    if not form.validate_on_submit():
        return render_settings(400, email_form=form)
    user = db.session.get(User, current_user.id)
    try:
        change_email(user, form.current_password.data, form.email.data, login_throttle(), request.remote_addr)
    except ChatError as exc:
        field = form.current_password if exc.code in ("wrong_password", "rate_limited") else form.email
        return field_refused(field, exc, email_form=form)
    return saved("saved_email")


@bp.post("/settings/password")
@login_required
def save_password():
    if current_app.config["CHAT_SSO_ONLY"]:
        flash("sso_passwords_off")
        return render_settings(403)
    form = PasswordForm(prefix="password")
    if not form.validate_on_submit():
        return render_settings(400, password_form=form)
    user = db.session.get(User, current_user.id)
    try:
        change_password(user, form.current_password.data, form.password.data, login_throttle(), request.remote_addr)
    except ChatError as exc:
        return field_refused(form.current_password, exc, password_form=form)
    return saved("saved_password")


def field_refused(field, exc, **forms):
    field.errors = [*field.errors, error_text(page_language()[0], exc)]
    return render_settings(exc.status if exc.status not in (401, 404) else 400, **forms)


# ---- password reset ----


def password_page(template, status=200, headers=None, **context):
    """A page of the reset flow (forgot, reset), in the request's language, with its status."""
    lang, t = page_texts()
    return render_template(template, lang=lang, t=t, **context), status, headers or {}


@bp.post("/password/forgot")
def forgot_password():
    if refused := passwords_off():
        return refused
    form = ForgotForm(prefix="forgot")
    if not form.validate_on_submit():
        return password_page("password_forgot.html", 400, form=form, sent=False)
    lang, t = page_texts()
    wait = request_reset(form.identifier.data, request.remote_addr, lang)
    if wait:
        form.identifier.errors = [t["too_many_resets"].format(minutes=math.ceil(wait / 60))]
        return password_page("password_forgot.html", 429, {"Retry-After": str(wait)}, form=form, sent=False)
    minutes = current_app.config["CHAT_RESET_TOKEN_TTL"] // 60
    return password_page("password_forgot.html", form=form, sent=True, minutes=minutes)


@bp.get("/password/reset/<token>")
def reset_page(token):
    if refused := passwords_off():
        return refused
    valid = valid_reset(token) is not None
    return password_page("password_reset.html", 200 if valid else 400, form=ResetForm(prefix="reset"), valid=valid)


@bp.post("/password/reset/<token>")
def reset_submit(token):
    if refused := passwords_off():
        return refused
    form = ResetForm(prefix="reset")
    if not form.validate_on_submit():
        return password_page("password_reset.html", 400, form=form, valid=valid_reset(token) is not None)
    try:
        reset_password(token, form.password.data)
    except ChatError as exc:
        valid = exc.code != "invalid_token"
        if valid:  # busy: the link still works
            form.password.errors = [error_text(page_language()[0], exc)]
        return password_page("password_reset.html", exc.status, form=form, valid=valid)
    flash("password_reset_done")
    return redirect(url_for("users.login_page"))
