"""Messages: storing them (store, writer), the one wire format (payloads, formatting), pages of
history (history), sending them (events), edits, deletions and reactions (edits)."""
