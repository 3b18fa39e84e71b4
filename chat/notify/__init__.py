"""Notification preferences (all / mentions / nothing per user and room) and DM read receipts."""
