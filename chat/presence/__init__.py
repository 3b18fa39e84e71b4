"""Presence: who is online, per node in the database (online), and its events: who_is_online,
active, typing (events)."""
