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
    },
}


def page_language():
    """The language for this request, and whether it was chosen explicitly (to remember it)."""
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        return chosen, True
    remembered = request.cookies.get(LANG_COOKIE)
    if remembered in LANGUAGES:
        return remembered, False
    return request.accept_languages.best_match(LANGUAGES, default="en"), False
