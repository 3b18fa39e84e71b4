"""Pinned messages: members pin and unpin messages of their room; the room's header lists them."""
