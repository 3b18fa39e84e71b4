"""One's own data: export as a zip, and account deletion."""
