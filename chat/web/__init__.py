"""The web side: the chat page, health, response headers and the session cookie read once per connection."""
