"""The page's two languages: chosen by ?lang=, then a cookie, then Accept-Language."""
from flask import request

LANGUAGES = ("ja", "en")
LANG_COOKIE = "lang"

STRINGS = {
    "ja": {
        "title": "チャット",
        "heading": "Socket.IO チャット",
        "connection": "接続状態",
        "connected": "接続中",
        "disconnected": "切断中",
        "reconnecting": "再接続中…",
        "connect": "接続",
        "disconnect": "切断",
        "rooms": "ルーム管理",
        "room_label": "ルーム名",
        "room_placeholder": "ルーム名を入力",
        "join": "ルームに参加",
        "leave": "ルームから退出",
        "current_room": "現在のルーム",
        "no_room": "なし（全員に送信）",
        "messages": "メッセージ",
        "message_label": "メッセージ",
        "message_placeholder": "メッセージを入力",
        "send": "送信",
        "send_room": "ルームに送信",
        "room_prefix": "[ルーム]",
        "error": "エラー",
        "language": "言語",
        "signed_in_as": "ログイン中",
        "guest": "ゲスト",
        "logout": "ログアウト",
        "login_title": "ログイン",
        "login": "ログイン",
        "register_title": "アカウント作成",
        "register": "登録",
        "guest_title": "ゲストとして参加",
        "guest_join": "ゲストで参加",
        "name": "名前",
        "password": "パスワード",
        "confirm": "パスワード（確認）",
        "bad_login": "名前かパスワードが違います。",
        "name_taken": "この名前は使われています。",
        "logged_out": "ログアウトしました。",
        "pending": "送信中…",
        "failed": "送信できませんでした",
        "load_older": "以前のメッセージ",
        "no_more": "これより前のメッセージはありません",
    },
    "en": {
        "title": "Chat",
        "heading": "Socket.IO chat",
        "connection": "Connection",
        "connected": "Connected",
        "disconnected": "Disconnected",
        "reconnecting": "Reconnecting…",
        "connect": "Connect",
        "disconnect": "Disconnect",
        "rooms": "Rooms",
        "room_label": "Room name",
        "room_placeholder": "Enter a room name",
        "join": "Join room",
        "leave": "Leave room",
        "current_room": "Current room",
        "no_room": "none (sending to everyone)",
        "messages": "Messages",
        "message_label": "Message",
        "message_placeholder": "Type a message",
        "send": "Send",
        "send_room": "Send to room",
        "room_prefix": "[Room]",
        "error": "Error",
        "language": "Language",
        "signed_in_as": "Signed in as",
        "guest": "guest",
        "logout": "Log out",
        "login_title": "Log in",
        "login": "Log in",
        "register_title": "Create an account",
        "register": "Register",
        "guest_title": "Join as a guest",
        "guest_join": "Join as guest",
        "name": "Name",
        "password": "Password",
        "confirm": "Password (again)",
        "bad_login": "Wrong name or password.",
        "name_taken": "That name is taken.",
        "logged_out": "You are logged out.",
        "pending": "sending…",
        "failed": "not sent",
        "load_older": "Older messages",
        "no_more": "No older messages",
    },
}


def strings(lang):
    return STRINGS[lang]


def page_language():
    """The language for this request, and whether it was chosen explicitly (to remember it)."""
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        return chosen, True
    remembered = request.cookies.get(LANG_COOKIE)
    if remembered in LANGUAGES:
        return remembered, False
    return request.accept_languages.best_match(LANGUAGES, default="en"), False
