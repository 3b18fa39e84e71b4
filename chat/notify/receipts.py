"""DM read receipts: the other person of a direct conversation learns how far one has read.

Both must allow it (User.read_receipts): who opts out neither sends nor sees receipts.
"""

from sqlalchemy import select

from ..extensions import db, socketio
from ..models import RoomMember, User
from ..rooms.access import dm_users, user_channel

SEEN_EVENT = "seen"


def receipts_on(user_ids):
    """The users among `user_ids` who send and see read receipts."""
    query = select(User.id).where(User.id.in_(list(user_ids)), User.read_receipts.is_(True))
    return set(db.session.execute(query).scalars())


def peer_of(room, user_id):
    return next((uid for uid in dm_users(room.name) if uid != user_id), None)


def send_receipt(room, user_id, last_read_id):
    """After `mark_read` in a DM: tell the other person (when both allow it) `seen {room, user, last_read_id}`."""
    if room.kind != "dm":
        return
    peer = peer_of(room, user_id)
    if peer is None or receipts_on({user_id, peer}) != {user_id, peer}:
        return
    payload = {"room": room.name, "user": user_id, "last_read_id": last_read_id}
    socketio.emit(SEEN_EVENT, payload, to=user_channel(peer))


def peer_read_ids(user_id, rooms):
    """{room id: how far the other person has read} for the user's DMs among `rooms`, where both
    allow receipts (for list_rooms' `peer_read_id`)."""
    dms = [room for room in rooms if room.kind == "dm"]
    if user_id is None or not dms or not receipts_on({user_id}):
        return {}
    peers = {room.id: peer_of(room, user_id) for room in dms}
    allowed = receipts_on({p for p in peers.values() if p is not None})
    query = select(RoomMember.room_id, RoomMember.user_id, RoomMember.last_read_id).where(
        RoomMember.room_id.in_(list(peers))
    )
    return {
        row.room_id: row.last_read_id
        for row in db.session.execute(query)
        if row.user_id == peers[row.room_id] and row.user_id in allowed
    }
