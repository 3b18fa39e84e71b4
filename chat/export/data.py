"""One's own data: a zip of one's messages, rooms and files; deleting one's account."""

import json
import logging
import os
import tempfile
import zipfile

from flask import current_app
from sqlalchemy import delete, select, update
from werkzeug.utils import secure_filename

from ..accounts.sessions import disconnect_user
from ..blocking import run_blocking
from ..extensions import db
from ..models import Mention, Message, Reaction, Room, RoomMember, Upload, User
from ..uploads.files import discard, file_path

log = logging.getLogger("chat.export")
# The author of a deleted account's kept messages (CHAT_DELETED_USER_MESSAGES=keep).
DELETED_AUTHOR = "deleted user"
BATCH = 1000  # messages read (and held) at a time


def iso(moment):
    return moment.isoformat(timespec="milliseconds") if moment is not None else None


def messages_after(user_id, after_id):
    """A batch of the user's messages (tombstones aside) after an id, oldest first, with rooms' names."""
    query = (
        select(Message, Room.name)
        .outerjoin(Room, Room.id == Message.room_id)
        .where(Message.user_id == user_id, Message.deleted_at.is_(None), Message.id > after_id)
        .order_by(Message.id)
        .limit(BATCH)
    )
    return [
        {
            "id": message.id,
            "room": room_name,
            "text": message.text,
            "ts": iso(message.created_at),
            "edited_at": iso(message.edited_at),
            "file": message.upload_id,
        }
        for message, room_name in db.session.execute(query)
    ]


def append_messages(path, batch, first):
    """Add a batch to messages.json's array on disk (off the loop: the JSON is built there)."""
    with open(path, "a", encoding="utf-8") as out:
        for index, item in enumerate(batch):
            out.write("\n" if first and index == 0 else ",\n")
            out.write(json.dumps(item, ensure_ascii=False))


def write_messages(path, user_id):
    """messages.json, a batch at a time: memory stays at one batch whatever the history's size."""
    with open(path, "w", encoding="utf-8") as out:
        out.write("[")
    after, first = 0, True
    while batch := messages_after(user_id, after):
        db.session.rollback()  # no connection held while the batch is written
        run_blocking(append_messages, path, batch, first)
        after, first = batch[-1]["id"], False
    with open(path, "a", encoding="utf-8") as out:
        out.write("\n]\n")


def own_rooms(user_id):
    query = (
        select(Room, RoomMember.joined_at)
        .join(RoomMember, RoomMember.room_id == Room.id)
        .where(RoomMember.user_id == user_id)
        .order_by(Room.id)
    )
    return [
        {
            "name": room.name,
            "kind": room.kind,
            "topic": room.topic,
            "private": room.private,
            "creator": room.creator_id == user_id,
            "joined_at": iso(joined_at),
            "retention_days": room.retention_days,
        }
        for room, joined_at in db.session.execute(query)
    ]


def own_files(user_id):
    """[(path on disk, name in the zip)] for the user's uploads that still have a file."""
    uploads = db.session.execute(select(Upload).where(Upload.uploader_id == user_id).order_by(Upload.id)).scalars()
    return [(file_path(u.token), f"uploads/{u.id}-{secure_filename(u.filename) or 'file'}") for u in uploads]


def write_zip(path, user, messages_path, rooms, files):
    """The export's zip at `path` (runs off the event loop: compression and file copies)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("user.json", json.dumps(user, ensure_ascii=False, indent=1))
        archive.write(messages_path, "messages.json")
        archive.writestr("rooms.json", json.dumps(rooms, ensure_ascii=False, indent=1))
        for source, name in files:
            if os.path.exists(source):  # a file removed meanwhile (its message deleted) is left out
                archive.write(source, name)


def build_export(user):
    """A temporary zip file with the user's data; the caller sends it and removes it."""
    about = {"id": user.id, "name": user.name, "created_at": iso(user.created_at)}
    rooms, files = own_rooms(user.id), own_files(user.id)
    with tempfile.TemporaryDirectory(prefix="chat-export-") as work:
        messages_path = os.path.join(work, "messages.json")
        write_messages(messages_path, user.id)
        handle, path = tempfile.mkstemp(prefix="chat-export-", suffix=".zip")
        os.close(handle)
        try:
            run_blocking(write_zip, path, about, messages_path, rooms, files)
        except BaseException:
            os.unlink(path)
            raise
    return path


def erase_messages(user_id):
    """Delete the user's messages (their mentions and reactions) in batches."""
    while ids := db.session.execute(select(Message.id).where(Message.user_id == user_id).limit(BATCH)).scalars().all():
        db.session.execute(delete(Mention).where(Mention.message_id.in_(ids)))
        db.session.execute(delete(Reaction).where(Reaction.message_id.in_(ids)))
        db.session.execute(delete(Message).where(Message.id.in_(ids)))
        db.session.commit()


def delete_account(user):
    """Delete the account: its uploads (files and rows), its messages kept under DELETED_AUTHOR or
    erased (CHAT_DELETED_USER_MESSAGES), the user row (its name is free again); then its sessions
    and sockets end on every node."""
    user_id = user.id
    uploads = db.session.execute(select(Upload).where(Upload.uploader_id == user_id)).scalars().all()
    upload_ids = [u.id for u in uploads]
    if upload_ids:
        db.session.execute(update(Message).where(Message.upload_id.in_(upload_ids)).values(upload_id=None))
        db.session.execute(delete(Upload).where(Upload.id.in_(upload_ids)))
    if current_app.config["CHAT_DELETED_USER_MESSAGES"] == "erase":
        db.session.commit()
        erase_messages(user_id)
    else:
        kept = update(Message).where(Message.user_id == user_id).values(user_id=None, author_name=DELETED_AUTHOR)
        db.session.execute(kept)
    db.session.execute(update(Room).where(Room.creator_id == user_id).values(creator_id=None))
    db.session.execute(delete(User).where(User.id == user_id))
    db.session.commit()
    for upload in uploads:
        discard(upload)
    disconnect_user(user_id)
    log.info("account %s deleted (%d files)", user_id, len(uploads))
