"""Parse socket payloads into typed values, or raise ChatError with a clear code."""
from dataclasses import dataclass

from flask import current_app

from .errors import ChatError


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
    name = text_field(data, "room", current_app.config["CHAT_MAX_ROOM_LENGTH"])
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise ChatError("invalid_room", "'room' must not contain control characters.")
    return name


def message_text(data):
    return text_field(data, "message", current_app.config["CHAT_MAX_MESSAGE_LENGTH"])


@dataclass(frozen=True, slots=True)
class RoomRequest:
    room: str

    @classmethod
    def parse(cls, data):
        return cls(room_name(payload_object(data)))


@dataclass(frozen=True, slots=True)
class RoomMessage:
    room: str
    message: str

    @classmethod
    def parse(cls, data):
        data = payload_object(data)
        return cls(room_name(data), message_text(data))


@dataclass(frozen=True, slots=True)
class BroadcastMessage:
    message: str

    @classmethod
    def parse(cls, data):
        return cls(message_text(payload_object(data)))
