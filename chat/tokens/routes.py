"""The /settings/tokens page: personal API tokens and one's webhooks (server-rendered, CSRF)."""

from datetime import timedelta

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user

from ..errors import ChatError
from ..i18n import page_language, strings
from ..models import utc_now
from ..validation import check_text, text_field
from .auth import SCOPES, create_token, revoke_token, user_tokens
from .hooks import create_hook, revoke_hook, user_hooks

bp = Blueprint("tokens", __name__)
MAX_EXPIRY_DAYS = 3650

TEXTS = {
    "ja": {
        "tokens_title": "API トークン",
        "tokens_intro": "HTTP API（Authorization: Bearer …）とソケット（auth: {token}）で使う個人用トークンです。",
        "token_name": "名前",
        "scope": "権限",
        "scope_read": "読み取りのみ",
        "scope_write": "読み書き",
        "expires_days": "有効期限（日数、空欄で無期限）",
        "create_token": "トークンを作成",
        "new_secret": "この値は今回しか表示されません。今すぐ控えてください：",
        "revoke": "無効にする",
        "revoked": "無効",
        "expires": "期限",
        "never": "なし",
        "last_used": "最終使用",
        "hooks_title": "Webhook（受信）",
        "hooks_intro": "JSON {text} を POST すると、ボットとしてルームに投稿します（作成者か管理者のみ）。",
        "hook_room": "ルーム",
        "hook_name": "ボットの名前",
        "create_hook": "Webhook を作成",
        "guests_cannot": "ゲストはトークンや Webhook を作れません。アカウントを登録してください。",
        "back": "チャットに戻る",
    },
    "en": {
        "tokens_title": "API tokens",
        "tokens_intro": "Personal tokens for the HTTP API (Authorization: Bearer …) and the socket (auth: {token}).",
        "token_name": "Name",
        "scope": "Scope",
        "scope_read": "read only",
        "scope_write": "read and write",
        "expires_days": "Expires after (days; empty: never)",
        "create_token": "Create token",
        "new_secret": "This value is shown only now. Copy it now:",
        "revoke": "Revoke",
        "revoked": "revoked",
        "expires": "Expires",
        "never": "never",
        "last_used": "Last used",
        "hooks_title": "Incoming webhooks",
        "hooks_intro": "POST JSON {text} to post into a room as a bot (the room's creator or an admin only).",
        "hook_room": "Room",
        "hook_name": "Bot name",
        "create_hook": "Create webhook",
        "guests_cannot": "Guests cannot create tokens or webhooks. Register an account first.",
        "back": "Back to the chat",
    },
}


def page_texts():
    lang, _ = page_language()
    return lang, {**strings(lang), **TEXTS[lang]}


def render_tokens(status=200, **extra):
    lang, t = page_texts()
    user = current_user
    return render_template(
        "tokens.html",
        lang=lang,
        t=t,
        user=user,
        tokens=user_tokens(user.id) if not user.is_guest else [],
        hooks=user_hooks(user.id) if not user.is_guest else [],
        now=utc_now(),
        scopes=SCOPES,
        **extra,
    ), status


def expiry(raw):
    """Days from now (1 to MAX_EXPIRY_DAYS) to a moment, or None for an empty field."""
    raw = (raw or "").strip()
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_EXPIRY_DAYS:
        raise ChatError("out_of_range", f"'expires_days' must be a whole number from 1 to {MAX_EXPIRY_DAYS}.")
    return utc_now() + timedelta(days=int(raw))


def form_field(name):
    return check_text(request.form.get(name, ""), name)


@bp.before_request
def signed_in_only():
    if not current_user.is_authenticated:
        return redirect(url_for("users.login_page", next=request.path))
    return None


@bp.get("/settings/tokens")
def tokens_page():
    return render_tokens()


@bp.post("/settings/tokens")
def create_token_form():
    try:
        name = text_field({"name": form_field("name")}, "name", 64)
        token, secret = create_token(current_user, name, form_field("scope"), expiry(form_field("expires_days")))
    except ChatError as exc:
        return render_tokens(exc.status, error=exc.message)
    return render_tokens(201, secret=secret, secret_name=token.name)


@bp.post("/settings/tokens/<int:token_id>/revoke")
def revoke_token_form(token_id):
    revoke_token(current_user.id, token_id)
    return redirect(url_for("tokens.tokens_page"))


@bp.post("/settings/webhooks")
def create_hook_form():
    try:
        hook, secret = create_hook(current_user, form_field("room"), form_field("name"))
    except ChatError as exc:
        return render_tokens(exc.status, error=exc.message)
    url = url_for("hooks.hook_api", token=secret, _external=True)
    return render_tokens(201, secret=url, secret_name=hook.name)


@bp.post("/settings/webhooks/<int:hook_id>/revoke")
def revoke_hook_form(hook_id):
    revoke_hook(current_user, hook_id)
    return redirect(url_for("tokens.tokens_page"))
