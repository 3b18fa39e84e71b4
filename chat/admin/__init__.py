"""Administration: the /admin page, moderation, reports and the audit log."""
