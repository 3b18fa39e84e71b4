"""Replies in threads: a reply's root, thread summaries, thread history, following and unread per thread."""
