"""Retention: old messages and their files pruned, by command and by a periodic job."""
