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
        "settings_link": "設定",
        "admin_link": "管理",
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
        "account_deactivated": "このアカウントは管理者によって無効にされています。",
        "too_many_logins": "ログインの失敗が続きました。{minutes} 分後にもう一度お試しください。",
        "login_busy": "サーバーが混み合っています。少し待ってからもう一度お試しください。",
        "name_taken": "この名前は使われています。",
        "name_length": "1～{limit}文字で入力してください。",
        "name_characters": "使えない文字 ({char}) が含まれています。見えない文字・制御文字・書式文字は使えません。",
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
        "edited": "編集済み",
        "edited_at": "{time} に編集",
        "deleted": "このメッセージは削除されました",
        "message_actions": "メッセージの操作",
        "edit_label": "メッセージを編集",
        "edit_hint": "Enter で保存、Esc でキャンセル",
        "delete_label": "メッセージを削除",
        "confirm_delete": "このメッセージを削除しますか？",
        "save": "保存",
        "cancel": "キャンセル",
        "empty_edit": "メッセージが空です",
        "react_label": "リアクションを追加",
        "reactions": "リアクション",
        "reaction_chip": "{emoji} のリアクション（{count}）",
        "other_emoji": "ほかの絵文字",
        "add": "追加",
        "offline": "接続していません",
        "no_answer": "サーバーから応答がありません",
        "attach": "ファイルを添付",
        "drop_hint": "ここにファイルをドロップして添付",
        "uploading": "アップロード中…",
        "uploading_name": "{name} をアップロード中",
        "upload_failed": "アップロードできませんでした",
        "too_large": "ファイルが大きすぎます（上限 {max}）",
        "type_refused": "この種類のファイルは送れません",
        "download": "ダウンロード",
        "open_image": "画像を開く",
        "search": "検索",
        "search_label": "メッセージを検索",
        "search_placeholder": "メッセージを検索",
        "search_results": "検索結果",
        "search_count": "「{q}」の検索結果: {count} 件",
        "no_results": "「{q}」を含むメッセージは見つかりませんでした",
        "close": "閉じる",
        "everyone": "全員",
        "not_found": "メッセージが見つかりません",
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
        "settings_link": "Settings",
        "admin_link": "Administration",
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
        "account_deactivated": "This account has been deactivated by an admin.",
        "too_many_logins": "Too many failed log-ins: try again in {minutes} min.",
        "login_busy": "The server is busy; try again in a moment.",
        "name_taken": "That name is taken.",
        "name_length": "1–{limit} characters.",
        "name_characters": "A character that names cannot hold ({char}): no invisible, control or format characters.",
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
        "edited": "edited",
        "edited_at": "edited {time}",
        "deleted": "This message was deleted",
        "message_actions": "Message actions",
        "edit_label": "Edit message",
        "edit_hint": "Enter to save, Escape to cancel",
        "delete_label": "Delete message",
        "confirm_delete": "Delete this message?",
        "save": "Save",
        "cancel": "Cancel",
        "empty_edit": "The message is empty",
        "react_label": "Add reaction",
        "reactions": "Reactions",
        "reaction_chip": "{emoji} reaction ({count})",
        "other_emoji": "Other emoji",
        "add": "Add",
        "offline": "Not connected",
        "no_answer": "No answer from the server",
        "attach": "Attach file",
        "drop_hint": "Drop files here to attach them",
        "uploading": "uploading…",
        "uploading_name": "Uploading {name}",
        "upload_failed": "Upload failed",
        "too_large": "The file is too large (limit {max})",
        "type_refused": "This type of file cannot be sent",
        "download": "Download",
        "open_image": "Open image",
        "search": "Search",
        "search_label": "Search messages",
        "search_placeholder": "Search messages",
        "search_results": "Search results",
        "search_count": "{count} results for “{q}”",
        "no_results": "No message contains “{q}”",
        "close": "Close",
        "everyone": "everyone",
        "not_found": "Message not found",
    },
}


# The page without its Socket.IO client (static/vendor/socket.io.min.js did not load): it cannot
# connect, and says so instead of showing 切断中 forever.
STRINGS["ja"].update(
    {
        "client_missing": "接続用のスクリプト（Socket.IO クライアント）を読み込めなかったため、このページはサーバーに"
        "接続できません。再読み込みしても直らない場合は、サーバーの管理者に連絡してください。",
        "cannot_connect": "接続できません",
    }
)
STRINGS["en"].update(
    {
        "client_missing": "The page's connection script (the Socket.IO client) did not load, so it cannot connect "
        "to the server. Reload the page; if that does not help, tell the server's operator.",
        "cannot_connect": "Cannot connect",
    }
)


# The chat app's shell (issue 20): the drawer, dialogs, switcher, notices, unread awareness.
STRINGS["ja"].update(
    {
        "open_sidebar": "ルームと参加者を開く",
        "jump_latest": "最新のメッセージへ",
        "composer_hint": "Enter で送信、Shift+Enter で改行、↑ で直前のメッセージを編集",
        "dark_mode": "ダークモード",
        "switcher": "ルームや人に移動",
        "switcher_placeholder": "ルーム・DM・人を検索",
        "conversations": "会話",
        "new_room_button": "新しいルーム",
        "everyone_room": "全員",
        "report_label": "メッセージを報告",
        "reply_label": "スレッドで返信",
        "threads": "スレッド",
        "thread_title": "スレッド",
        "thread_close": "スレッドを閉じる",
        "thread_follow": "フォローする",
        "thread_following": "フォロー中",
        "thread_reply_one": "{count} 件の返信",
        "thread_replies": "{count} 件の返信",
        "thread_replies_label": "スレッドの返信",
        "thread_placeholder": "スレッドに返信",
        "thread_unread": "{count} 未読",
        "no_threads": "フォロー中のスレッドはありません",
        "report_prompt": "報告の理由",
        "report_sent": "報告しました",
        "notice_join": "{user} がルーム {room} に参加しました",
        "notice_leave": "{user} がルーム {room} から退出しました",
        "today": "今日",
        "yesterday": "昨日",
        "new_messages": "新着メッセージ",
        "member_count": "{count} メンバー",
        "member_count_one": "{count} メンバー",
        "person": "人",
        "loading": "読み込み中…",
    }
)
STRINGS["en"].update(
    {
        "open_sidebar": "Open rooms and people",
        "jump_latest": "Jump to latest",
        "composer_hint": "Enter sends, Shift+Enter adds a line, ↑ edits your last message",
        "dark_mode": "Dark mode",
        "switcher": "Go to a room or person",
        "switcher_placeholder": "Find rooms, DMs, people",
        "conversations": "Conversations",
        "new_room_button": "New room",
        "everyone_room": "Everyone",
        "report_label": "Report message",
        "reply_label": "Reply in thread",
        "threads": "Threads",
        "thread_title": "Thread",
        "thread_close": "Close thread",
        "thread_follow": "Follow",
        "thread_following": "Following",
        "thread_reply_one": "{count} reply",
        "thread_replies": "{count} replies",
        "thread_replies_label": "Replies in the thread",
        "thread_placeholder": "Reply in the thread",
        "thread_unread": "{count} unread",
        "no_threads": "No followed threads",
        "report_prompt": "Why are you reporting this message?",
        "report_sent": "Reported",
        "notice_join": "{user} joined {room}",
        "notice_leave": "{user} left {room}",
        "today": "Today",
        "yesterday": "Yesterday",
        "new_messages": "New messages",
        "member_count": "{count} members",
        "member_count_one": "{count} member",
        "person": "person",
        "loading": "Loading…",
    }
)


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


# Single sign-on (chat/accounts/oidc.py): the login page's button and what a failed sign-in says.
STRINGS["ja"].update(
    {
        "sso_title": "シングルサインオン",
        "sso_sign_in": "{name} でログイン",
        "sso_denied": "シングルサインオンが取り消されました。",
        "sso_failed": "シングルサインオンでログインできませんでした。もう一度お試しください。",
        "sso_expired": "ログインの手続きが期限切れか、別のブラウザーで始められました。もう一度お試しください。",
        "sso_unavailable": "シングルサインオンのサーバーに接続できません。少し待ってからもう一度お試しください。",
        "sso_no_account": "このアカウントはまだ登録されていません。管理者に連絡してください。",
        "sso_deactivated": "このアカウントは無効になっています。",
        "sso_only": "パスワードでのログインと登録はできません。シングルサインオンをお使いください。",
        "sso_passwords_off": "パスワードはシングルサインオンで管理されています。ここでは変更も再設定もできません。",
    }
)
STRINGS["en"].update(
    {
        "sso_title": "Single sign-on",
        "sso_sign_in": "Sign in with {name}",
        "sso_denied": "Single sign-on was cancelled.",
        "sso_failed": "Single sign-on failed. Please try again.",
        "sso_expired": "The sign-in expired or was started in another browser. Please try again.",
        "sso_unavailable": "The single sign-on server cannot be reached. Please try again in a moment.",
        "sso_no_account": "There is no account for you here yet. Ask the operator.",
        "sso_deactivated": "This account is deactivated.",
        "sso_only": "Password log-in and registration are turned off: use single sign-on.",
        "sso_passwords_off": "Passwords are managed by single sign-on: they cannot be changed or reset here.",
    }
)

# Profiles in the chat page (static/js/views/profile.js): the profile card.
STRINGS["ja"].update(
    {
        "profile_card": "プロフィール",
        "profile_message": "メッセージを送る",
        "profile_status": "ステータス: {status}",
        "profile_no_status": "ステータスなし",
        "profile_local_time": "現地時刻: {time}（{zone}）",
        "profile_not_found": "このユーザーは見つかりません",
    }
)
STRINGS["en"].update(
    {
        "profile_card": "Profile",
        "profile_message": "Send a message",
        "profile_status": "Status: {status}",
        "profile_no_status": "No status",
        "profile_local_time": "Local time: {time} ({zone})",
        "profile_not_found": "This user cannot be found",
    }
)


# Desktop notifications and Web Push (chat/push, static/js/push.js): the sidebar's button.
STRINGS["ja"].update(
    {
        "notify_enable": "通知をオンにする",
        "notify_disable": "通知をオフにする",
        "notify_blocked": "通知はブラウザーでブロックされています",
    }
)
STRINGS["en"].update(
    {
        "notify_enable": "Turn on notifications",
        "notify_disable": "Turn off notifications",
        "notify_blocked": "Notifications are blocked in this browser",
    }
)


# Pins, notification levels, read receipts (chat/pins, chat/notify; static/js/views/pins.js).
STRINGS["ja"].update(
    {
        "pins": "ピン留めされたメッセージ",
        "no_pins": "ピン留めされたメッセージはありません。",
        "pin_label": "ピン留め",
        "unpin_label": "ピン留めを外す",
        "seen": "既読",
        "notify_level": "通知",
        "notify_all": "すべてのメッセージ",
        "notify_mentions": "メンションのみ",
        "notify_nothing": "通知しない（未読数も表示しない）",
    }
)
STRINGS["en"].update(
    {
        "pins": "Pinned messages",
        "no_pins": "No pinned messages.",
        "pin_label": "Pin",
        "unpin_label": "Unpin",
        "seen": "Seen",
        "notify_level": "Notifications",
        "notify_all": "All messages",
        "notify_mentions": "Mentions only",
        "notify_nothing": "Nothing (no unread count)",
    }
)
