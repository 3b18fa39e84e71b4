"""Several nodes: the Redis message queue (queue), order across nodes (order), and a write
budget every node shares (shared_rate)."""
