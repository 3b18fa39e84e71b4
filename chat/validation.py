"""Parse socket payloads into typed values, or raise ChatError with a clear code."""
from dataclasses import dataclass

from flask import current_app

from .errors import ChatError
from .names import NameRefused, checked_name


def payload_object(data):
    if not isinstance(data, dict):
        raise ChatError("invalid_payload", "The payload must be a JSON object.")
    return data


def text_field(data, name, limit):
    """A required non-blank string of at most `limit` characters, kept exactly as sent."""
    if name not in data:
        raise ChatError("missing_field", f"'{name}' is required.")
    value = data[name]
    if not isinstance(value, str):
        raise ChatError("invalid_type", f"'{name}' must be a string.")
    if not value.strip():
        raise ChatError("empty_field", f"'{name}' must not be empty.")
    if len(value) > limit:
        raise ChatError("too_long", f"'{name}' must be at most {limit} characters.")
    return value


def room_name(data):
    """The room's name, normalised by the rule for names (chat/names.py)."""
    limit = current_app.config["CHAT_MAX_ROOM_LENGTH"]
    return checked_room_name(text_field(data, "room", limit), limit)


def checked_room_name(raw, limit):
    try:
        return checked_name(raw, limit)
    except NameRefused as exc:
        if exc.reason == "empty":
            raise ChatError("empty_field", "'room' must not be empty.") from None
        if exc.reason == "too_long":
            raise ChatError("too_long", f"'room' must be at most {limit} characters.") from None
        raise ChatError("invalid_room", exc.describe("'room'")) from None


def message_text(data):
    return text_field(data, "message", current_app.config["CHAT_MAX_MESSAGE_LENGTH"])


@dataclass(frozen=True, slots=True)
class RoomRequest:
    room: str
    since: int | None = None

    @classmethod
    def parse(cls, data):
        data = payload_object(data)
        return cls(room_name(data), optional_id(data, "since"))


@dataclass(frozen=True, slots=True)
class RoomMessage:
    room: str
    message: str
    client_id: str | None = None

    @classmethod
    def parse(cls, data):
        data = payload_object(data)
        return cls(room_name(data), message_text(data), optional_client_id(data))


@dataclass(frozen=True, slots=True)
class BroadcastMessage:
    message: str
    client_id: str | None = None

    @classmethod
    def parse(cls, data):
        data = payload_object(data)
        return cls(message_text(data), optional_client_id(data))


MAX_ID = 2**63 - 1


def optional_id(data, name):
    """A message id bound (`since`, `before`): absent/None, or an integer 0..2^63-1."""
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ChatError("invalid_type", f"'{name}' must be an integer.")
    if not 0 <= value <= MAX_ID:
        raise ChatError("out_of_range", f"'{name}' must be between 0 and {MAX_ID}.")
    return value


def optional_limit(data, maximum):
    value = data.get("limit")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ChatError("invalid_type", "'limit' must be an integer.")
    if not 1 <= value <= maximum:
        raise ChatError("out_of_range", f"'limit' must be between 1 and {maximum}.")
    return value


def optional_room(data):
    """A room name, or None for the global channel."""
    if data.get("room") is None:
        return None
    return room_name(data)


def optional_client_id(data):
    value = data.get("client_id")
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > 64:
        raise ChatError("invalid_type", "'client_id' must be a string of 1 to 64 characters.")
    return value
