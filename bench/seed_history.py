"""Fill the benchmark's rooms with history before a run (`bench/compare.sh --history N`).

    DATABASE_URL=... python bench/seed_history.py 200           # 200 messages in each room
    DATABASE_URL=... python bench/seed_history.py 200 --rooms 100

Run from the directory of the build being measured (compare.sh does): the app, its models and its
migrations are imported from there, so an older commit is seeded with its own schema. Brings the
schema up to date first (as gunicorn.conf.py would), then creates the rooms the load generator
joins (`bench-0` … `bench-<rooms - 1>`) with N messages each, so that s3's joins read a full page
of history (CHAT_HISTORY_ON_JOIN, 50 by default) from rooms that already hold some, as a team's
rooms do.
"""

import argparse
import os
import sys

sys.path.insert(0, os.getcwd())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("per_room", type=int, help="messages in each room")
    parser.add_argument("--rooms", type=int, default=100, help="rooms bench-0 … (default 100)")
    args = parser.parse_args()

    from flask_migrate import upgrade
    from sqlalchemy import insert

    from chat import create_app
    from chat.extensions import db
    from chat.models import Message
    from chat.rooms.access import create_room_record, find_room

    app = create_app()
    with app.app_context():
        upgrade()
        for r in range(args.rooms):
            name = f"bench-{r}"
            room = find_room(name) or create_room_record(name, None)  # as a first join creates it
            rows = [
                {"room_id": room.id, "author_name": "seed", "sender_sid": "seed", "text": f"history {i} of {room.name}"}
                for i in range(args.per_room)
            ]
            if rows:
                db.session.execute(insert(Message), rows)
        db.session.commit()
        print(f"seed_history: {args.rooms} rooms, {args.per_room} messages each", file=sys.stderr)


if __name__ == "__main__":
    main()
