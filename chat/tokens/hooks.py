"""Incoming webhooks: `POST /api/hooks/<token>` `{text, client_id?}` posts into one room as a bot."""

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import select

from ..errors import ChatError
from ..extensions import csrf, db
from ..messages.payloads import BOT_SID_PREFIX
from ..messages.store import sent_before, store_and_send
from ..models import Room, User, utc_now
from ..names import NameRefused, checked_name
from ..ratelimit import check_user_rate
from ..rooms.access import find_room, ref_for
from ..validation import checked_room_name, optional_client_id, payload_object, text_field
from .auth import HOOK_PREFIX, HOOK_SHAPE, digest, new_secret, user_is_active
from .models import Webhook

bp = Blueprint("hooks", __name__)


def may_manage_hooks(room, user):
    """The room's creator, or an admin: who may add and revoke a room's webhooks."""
    return room.kind == "room" and (room.creator_id == user.id or bool(user.is_admin))


def bot_name(raw):
    """A webhook's name, by the rule for names of people (it is shown as the messages' author)."""
    limit = current_app.config["CHAT_MAX_NAME_LENGTH"]
    try:
        return checked_name(raw, limit)
    except NameRefused as exc:
        raise ChatError("invalid_user", exc.describe("'name'")) from None


def create_hook(user, room_raw, name_raw):
    """A new webhook for a room the user owns (or any room, for an admin); returns (Webhook, secret)."""
    if user.is_guest:
        raise ChatError("forbidden", "Guests cannot create webhooks: register first.")
    name = bot_name(text_field({"name": name_raw}, "name", current_app.config["CHAT_MAX_NAME_LENGTH"]))
    limit = current_app.config["CHAT_MAX_ROOM_LENGTH"]
    room_name = checked_room_name(text_field({"room": room_raw}, "room", limit), limit)
    room = find_room(room_name)
    if room is None or not may_manage_hooks(room, user):
        raise ChatError("forbidden", f"Only the creator of the room '{room_name}' (or an admin) may add webhooks.")
    raw = new_secret(HOOK_PREFIX)
    hook = Webhook(room_id=room.id, creator_id=user.id, name=name, token_hash=digest(raw))
    db.session.add(hook)
    db.session.commit()
    return hook, raw


def revoke_hook(user, hook_id):
    hook = db.session.get(Webhook, hook_id)
    room = db.session.get(Room, hook.room_id) if hook is not None else None
    if room is None or not (hook.creator_id == user.id or may_manage_hooks(room, user)):
        raise ChatError("not_found", "No such webhook.")
    if hook.revoked_at is None:
        hook.revoked_at = utc_now()
        db.session.commit()


def user_hooks(user_id):
    """The webhooks a user made, with their rooms' names."""
    query = (
        select(Webhook, Room.name)
        .join(Room, Room.id == Webhook.room_id)
        .where(Webhook.creator_id == user_id)
        .order_by(Webhook.id.desc())
    )
    return db.session.execute(query).all()


def live_hook(raw):
    """The usable webhook behind a URL token, or not_found (404) for anything else."""
    hook = None
    if HOOK_SHAPE.fullmatch(raw):
        hook = db.session.execute(select(Webhook).filter_by(token_hash=digest(raw))).scalar_one_or_none()
    creator = db.session.get(User, hook.creator_id) if hook is not None and hook.revoked_at is None else None
    if creator is None or not user_is_active(creator):
        raise ChatError("not_found", "No such webhook.")
    return hook


def post_by_hook(hook, data):
    """Store and send the webhook's message through the path every message takes; (payload, created)."""
    data = payload_object(data)
    text = text_field(data, "text", current_app.config["CHAT_MAX_MESSAGE_LENGTH"])
    client_id = optional_client_id(data)
    check_user_rate(f"hook:{hook.id}")  # a webhook's own write budget, the size of a user's
    room = db.session.get(Room, hook.room_id)
    ref = ref_for(room)
    sid = f"{BOT_SID_PREFIX}{hook.id}"
    earlier = sent_before(None, client_id, ref.name, sid)
    if earlier is not None:
        return earlier, False
    bot = {"id": None, "name": hook.name, "guest": False}
    return store_and_send(bot, sid, ref, text, client_id, "room_message")


@bp.post("/api/hooks/<token>")
@csrf.exempt  # the secret URL is the credential; no cookie is used
def hook_api(token):
    hook = live_hook(token)
    payload, created = post_by_hook(hook, request.get_json(silent=True))
    reply = {"ok": True, "id": payload["id"]}
    if not created:
        reply["duplicate"] = True
    return jsonify(reply), 201 if created else 200
