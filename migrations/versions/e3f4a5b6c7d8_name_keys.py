"""names by one rule: rooms.name_key, users' keys recomputed (chat/names.py)

Every user's and room's name is normalised by the rule for names (NFKC, one kind of space, no
invisible, control or format characters: those are dropped), and keyed by the new key (NFKC +
case folding). Rooms get a unique `name_key`; users' `name_key` is recomputed.

Rows whose keys now collide ("Taro" and "Ｔａｒｏ", "General" and "ｇｅｎｅｒａｌ", "Bob" and
"B\\u200bob") are not merged: the oldest row (lowest id) keeps the name, each later one is
renamed to "<name>-<id>" (shortened to fit), so every account still logs in with its password
and every room keeps its messages and members; the renamed rows are logged. A public room whose
key starts with "dm:" (kept for direct conversations) is renamed "<first 2 characters>-<rest>"
("DM:1:2" becomes "DM-1:2"). A name with nothing left once cleaned becomes "user-<id>" or
"room-<id>". Messages keep the author name they were sent with.

Downgrade drops rooms.name_key and gives users the previous key (stripped, case-folded); names
stay as upgraded.

Revision ID: e3f4a5b6c7d8
Revises: b7e2c1d90a14
Create Date: 2026-11-29 21:00:00

"""

import logging
import unicodedata

import sqlalchemy as sa
from alembic import op

from chat.names import NameRefused, name_key, normalise

# revision identifiers, used by Alembic.
revision = "e3f4a5b6c7d8"
down_revision = "b7e2c1d90a14"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

USER_NAME_LENGTH = 32  # users.name and users.name_key
ROOM_NAME_LENGTH = 100  # rooms.name and rooms.name_key
DM_PREFIX = "dm:"

users = sa.table("users", sa.column("id", sa.Integer), sa.column("name", sa.String), sa.column("name_key", sa.String))
rooms = sa.table(
    "rooms",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("name_key", sa.String),
    sa.column("kind", sa.String),
)


def cleaned(name):
    """The name by the rule, its refused characters dropped; None when nothing is left."""
    kept = []
    for char in unicodedata.normalize("NFKC", name):
        if char.isspace():
            kept.append(" ")
            continue
        try:
            normalise(char)
        except NameRefused:
            continue
        kept.append(char)
    try:
        return normalise(" ".join("".join(kept).split()))
    except NameRefused:
        return None


def fit(name, limit, suffix=""):
    """`name` + `suffix`, shortened until both it and its key fit in `limit` characters."""
    base = name[: max(limit - len(suffix), 1)]
    while base and (len(base + suffix) > limit or len(name_key(base + suffix)) > limit):
        base = base[:-1]
    return (base.rstrip() or "x") + suffix


def new_names(rows, limit, fallback, reserved=lambda row: False):
    """{id: (name, key)} for rows (id, name, kind) in id order: the oldest keeps a key."""
    taken, result = set(), {}
    for row in rows:
        name = cleaned(row.name) if row.kind != "dm" else row.name
        name = fit(name, limit) if name else f"{fallback}-{row.id}"
        if row.kind != "dm" and reserved(name):
            name = fit(name[:2] + "-" + name[3:], limit)
        if name_key(name) in taken:
            name = fit(name, limit, f"-{row.id}")
        while name_key(name) in taken:  # "<name>-<id>" was someone's name already
            name = fit(name, limit, "-") + str(row.id)
        if name != row.name:
            log.info("%s %s renamed %r -> %r", fallback, row.id, row.name, name)
        taken.add(name_key(name))
        result[row.id] = (name, name_key(name))
    return result


def rewrite(table, wanted, current, columns):
    """Set each changed row's `columns` from wanted[id]; through a unique placeholder first,
    so that no row takes a name or key another row has not given up yet."""
    changed = {row_id: values for row_id, values in wanted.items() if values != current[row_id]}
    bind = op.get_bind()
    for row_id in changed:
        placeholder = f"\x01{row_id}"  # a control character: no name has one
        bind.execute(table.update().where(table.c.id == row_id).values({c: placeholder for c in columns}))
    for row_id, values in changed.items():
        bind.execute(table.update().where(table.c.id == row_id).values(dict(zip(columns, values, strict=True))))


def upgrade():
    bind = op.get_bind()
    with op.batch_alter_table("rooms", schema=None, recreate="never") as batch_op:
        batch_op.add_column(sa.Column("name_key", sa.String(length=100), nullable=False, server_default=""))

    user_rows = bind.execute(
        sa.select(users.c.id, users.c.name, sa.literal("user").label("kind"), users.c.name_key).order_by(users.c.id)
    ).all()
    rewrite(
        users,
        new_names(user_rows, USER_NAME_LENGTH, "user"),
        {r.id: (r.name, r.name_key) for r in user_rows},
        ("name", "name_key"),
    )

    room_rows = bind.execute(
        sa.select(rooms.c.id, rooms.c.name, rooms.c.kind, rooms.c.name_key).order_by(rooms.c.id)
    ).all()
    wanted = new_names(room_rows, ROOM_NAME_LENGTH, "room", reserved=lambda name: name_key(name).startswith(DM_PREFIX))
    rewrite(rooms, wanted, {r.id: (r.name, r.name_key) for r in room_rows}, ("name", "name_key"))

    if bind.dialect.name != "sqlite":  # SQLite cannot drop a default without rebuilding the table
        op.alter_column("rooms", "name_key", server_default=None)
    op.create_index("ix_rooms_name_key", "rooms", ["name_key"], unique=True)


def downgrade():
    bind = op.get_bind()
    op.drop_index("ix_rooms_name_key", table_name="rooms")
    with op.batch_alter_table("rooms", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("name_key")
    user_rows = bind.execute(sa.select(users.c.id, users.c.name, users.c.name_key)).all()
    rewrite(
        users,
        {r.id: (r.name.strip().casefold(),) for r in user_rows},
        {r.id: (r.name_key,) for r in user_rows},
        ("name_key",),
    )
