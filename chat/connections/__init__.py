"""A socket connection: its lifecycle (connect, disconnect, events nobody handles) and what it remembers (state)."""
