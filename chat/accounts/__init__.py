"""Accounts: the login page (register, log in, guests, log out), sessions that end everywhere, throttled guessing;
profiles (display name, avatar, status, time zone), passwords (change, email, reset by mail), the settings page."""
