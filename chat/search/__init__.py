"""Search: the queries per database (query), the full-text index (schema), the socket event and HTTP route (events)."""
