"""The page's two languages: chosen by ?lang=, then a cookie, then Accept-Language."""
from flask import request, url_for

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
        "delayed": "メッセージの配信が遅れています。再開すると届かなかった分も表示されます。",
        "load_older": "以前のメッセージ",
        "no_more": "これより前のメッセージはありません",
        "sidebar": "ルームと参加者",
        "room_list": "ルーム一覧",
        "new_room": "新しいルーム名",
        "topic": "トピック",
        "private_room": "非公開",
        "create_room": "ルームを作成",
        "direct_messages": "ダイレクトメッセージ",
        "online": "オンライン",
        "away": "離席中",
        "members": "メンバー",
        "member_one": "メンバー",
        "online_count": "オンライン",
        "unread": "未読",
        "mentions": "メンション",
        "dm_with": "{name} にダイレクトメッセージ",
        "room_settings": "ルーム設定",
        "set_topic": "トピックを変更",
        "invite_user": "招待するユーザー",
        "invite": "招待",
        "remove_user": "外すユーザー",
        "remove": "外す",
        "typing_one": "{name} が入力中…",
        "typing_many": "{names} が入力中…",
        "invited": "{by} さんがルーム {room} に招待しました",
        "removed": "ルーム {room} から外されました",
        "private_mark": "非公開",
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
        "delayed": "Messages are delayed. Missed ones will appear once delivery resumes.",
        "load_older": "Older messages",
        "no_more": "No older messages",
        "sidebar": "Rooms and people",
        "room_list": "Rooms",
        "new_room": "New room name",
        "topic": "Topic",
        "private_room": "Private",
        "create_room": "Create room",
        "direct_messages": "Direct messages",
        "online": "Online",
        "away": "away",
        "members": "members",
        "member_one": "member",
        "online_count": "online",
        "unread": "unread",
        "mentions": "mentions",
        "dm_with": "Direct message {name}",
        "room_settings": "Room settings",
        "set_topic": "Set topic",
        "invite_user": "User to invite",
        "invite": "Invite",
        "remove_user": "User to remove",
        "remove": "Remove",
        "typing_one": "{name} is typing…",
        "typing_many": "{names} are typing…",
        "invited": "{by} invited you to {room}",
        "removed": "You were removed from {room}",
        "private_mark": "private",
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


def lang_url(code):
    """This page in another language, keeping its other query arguments (such as `next`)."""
    args = {k: v for k, v in request.args.items() if k != "lang"}
    endpoint = request.endpoint if request.method == "GET" else "users.login_page"
    if request.method != "GET" and request.form.get("next"):
        args["next"] = request.form["next"]
    return url_for(endpoint, **args, lang=code)


def init_app(app):
    app.context_processor(lambda: {"lang_url": lang_url, "languages": LANGUAGES})
