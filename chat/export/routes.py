"""The /settings/data page: export one's data as a zip, delete one's account (server-rendered, CSRF)."""

import os

from flask import Blueprint, current_app, redirect, render_template, request, send_file, url_for
from flask_login import current_user, logout_user
from werkzeug.security import check_password_hash

from ..accounts.pages import login_throttle
from ..blocking import Busy, run_blocking
from ..extensions import db
from ..i18n import page_language, strings
from ..names import name_key
from ..validation import refused_character
from .data import build_export, delete_account

bp = Blueprint("data", __name__)

TEXTS = {
    "ja": {
        "data_title": "自分のデータ",
        "export_title": "エクスポート",
        "export_intro": "自分のメッセージ（messages.json）、ルーム（rooms.json）、"
        "アップロードしたファイル（uploads/）を zip でダウンロードします。",
        "export": "ダウンロード",
        "delete_title": "アカウントの削除",
        "delete_intro": "アカウントを削除すると、すべてのセッションと接続が終わり、"
        "アップロードしたファイルが消えます。元に戻せません。",
        "delete_keep": "送ったメッセージは「deleted user」の名前で残ります。",
        "delete_erase": "送ったメッセージもすべて消えます。",
        "current_password": "現在のパスワード",
        "confirm_name": "確認のため自分の名前を入力",
        "delete": "アカウントを削除",
        "wrong_password": "パスワードが違います。",
        "wrong_name": "名前が一致しません。",
        "too_many": "試行が多すぎます。しばらく待ってからもう一度試してください。",
        "busy": "サーバーが混み合っています。もう一度試してください。",
        "deleted": "アカウントを削除しました。",
        "back": "チャットに戻る",
    },
    "en": {
        "data_title": "Your data",
        "export_title": "Export",
        "export_intro": "Download a zip of your messages (messages.json), your rooms (rooms.json) "
        "and your files (uploads/).",
        "export": "Download",
        "delete_title": "Delete your account",
        "delete_intro": "Deleting your account ends every session and connection and removes your files. "
        "It cannot be undone.",
        "delete_keep": "Your messages stay, under the name “deleted user”.",
        "delete_erase": "Your messages are erased too.",
        "current_password": "Current password",
        "confirm_name": "Type your name to confirm",
        "delete": "Delete my account",
        "wrong_password": "The password is wrong.",
        "wrong_name": "The name does not match.",
        "too_many": "Too many attempts. Wait a while and try again.",
        "busy": "The server is busy. Try again.",
        "deleted": "Your account has been deleted.",
        "back": "Back to the chat",
    },
}


def render_data(status=200, **extra):
    lang, _ = page_language()
    return render_template(
        "data.html",
        lang=lang,
        t={**strings(lang), **TEXTS[lang]},
        user=current_user,
        erase=current_app.config["CHAT_DELETED_USER_MESSAGES"] == "erase",
        **extra,
    ), status


@bp.before_request
def signed_in_only():
    if not current_user.is_authenticated:
        return redirect(url_for("users.login_page", next=request.path))
    return None


@bp.get("/settings/data")
def data_page():
    return render_data()


@bp.post("/settings/data/export")
def export_data():
    try:
        path = build_export(current_user)
    except Busy:
        return render_data(503, error_key="busy")
    response = send_file(path, mimetype="application/zip", as_attachment=True, download_name="chat-export.zip")
    response.call_on_close(lambda: os.path.exists(path) and os.unlink(path))
    response.headers["Cache-Control"] = "no-store"
    return response


def confirmed(user):
    """The deletion's proof: the password of an account that has one, else the user's own name.
    Returns the key of the error to show, or None."""
    if user.password_hash is None:
        typed = request.form.get("name", "")
        return None if refused_character(typed) is None and name_key(typed) == user.name_key else "wrong_name"
    throttle, account = login_throttle(), user.name_key
    if throttle.admit(account, request.remote_addr):
        return "too_many"
    password, stored = request.form.get("password", ""), user.password_hash
    if len(password) > current_app.config["CHAT_MAX_PASSWORD_LENGTH"]:
        password = ""  # never hashed: no password is that long
    db.session.rollback()  # hold no pooled connection while the hash runs
    if not run_blocking(check_password_hash, stored, password):
        throttle.failed(account, request.remote_addr)
        return "wrong_password"
    return None


@bp.post("/settings/data/delete")
def delete_data():
    user = current_user._get_current_object()
    try:
        error = confirmed(user)
    except Busy:
        error = "busy"
    if error is not None:
        return render_data({"busy": 503, "too_many": 429}.get(error, 403), error_key=error)
    delete_account(user)
    logout_user()
    return render_data(200, done=True)
