"""Accounts: the login page (register, log in, guests, log out), sessions that end everywhere, throttled guessing."""
