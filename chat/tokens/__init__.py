"""Personal API tokens and incoming webhooks."""
