"""Passwords and email: change (the current password required; other sessions end), an optional
email address, and reset by email: a single-use link whose token is stored hashed and expires.

A reset request never tells whether a name or an address exists: the same answer, at once, for
all (the mail, if any, goes out from a background task: chat/accounts/mail.py), rate limited
per address and per account. Links are built from CHAT_BASE_URL only, never from the Host header.
"""

import hashlib
import logging
import secrets
from datetime import timedelta

from email_validator import EmailNotValidError, validate_email
from flask import current_app, render_template
from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from ..blocking import run_blocking
from ..errors import ChatError
from ..extensions import db
from ..models import User, utc_now
from ..names import name_key
from ..validation import check_text
from .login_throttle import LoginThrottle
from .mail import build_message, mail_configured, send_later
from .models import PasswordReset
from .sessions import end_sessions, release_connection, sign_in

log = logging.getLogger("chat.passwords")

MAX_EMAIL = 254  # User.email's column (RFC 5321's path limit)
RESET_PATH = "/password/reset/"


# ---- email addresses ----


def email_key(email):
    """Two addresses are one when their keys are equal (case ignored)."""
    return email.casefold()


def checked_email(raw):
    """The address, normalised (the domain lower-cased, IDNA), or ChatError invalid_email."""
    if not isinstance(raw, str):
        raise ChatError("invalid_type", "'email' must be a string.")
    raw = check_text(raw.strip(), "email")
    if len(raw) > MAX_EMAIL:
        raise ChatError("too_long", f"'email' must be at most {MAX_EMAIL} characters.")
    try:
        found = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ChatError("invalid_email", f"Not an email address: {exc}") from None
    if len(found.normalized) > MAX_EMAIL:
        raise ChatError("too_long", f"'email' must be at most {MAX_EMAIL} characters.")
    return found.normalized


# ---- the current password ----


def password_matches(user, password):
    """Whether the password is the user's (checked off the loop; False for an account without one)."""
    stored = user.password_hash
    release_connection()
    if not stored:
        return False
    return run_blocking(check_password_hash, stored, password)


def require_password(user, password, throttle, address):
    """The current password, or ChatError: `wrong_password`, or `rate_limited` after too many
    wrong ones (counted like failed logins: a stolen session cannot guess the password)."""
    account = user.name_key
    wait = throttle.admit(account, address)
    if wait:
        raise ChatError("rate_limited", f"Too many wrong passwords; try again in {wait} s.")
    if not password_matches(user, password or ""):
        throttle.failed(account, address)
        raise ChatError("wrong_password", "The current password is not right.")
    throttle.succeeded(account)


def change_password(user, current, new, throttle, address):
    """A new password for the signed-in user: every other session ends, this one goes on."""
    require_password(user, current, throttle, address)
    password_hash = run_blocking(generate_password_hash, new)
    user = db.session.get(User, user.id)
    user.password_hash = password_hash
    end_sessions(user)  # commits the hash with the new generation; closes every socket of the user
    db.session.refresh(user)
    sign_in(user)  # this session, in the new generation
    log.info("password changed user=%s", user.id)


def change_email(user, current, raw_email, throttle, address):
    """Set (or, with an empty address, remove) the user's email; the current password required."""
    email = checked_email(raw_email) if (raw_email or "").strip() else None
    require_password(user, current, throttle, address)
    user = db.session.get(User, user.id)
    user.email = email
    user.email_key = email_key(email) if email else None
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ChatError("email_taken", "Another account has this email address.") from None
    log.info("email %s user=%s", "set" if email else "removed", user.id)
    return email


# ---- reset by email ----


def token_hash(token):
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def reset_throttles():
    """Reset requests counted per address and per account (where failed logins are counted):
    two throttles, so that each answers for its own limit."""
    app = current_app._get_current_object()
    found = app.extensions.get("chat_reset_throttles")
    if found is None:
        cfg = app.config
        storage = cfg["CHAT_LOGIN_LIMIT_STORAGE"] or cfg["CHAT_MESSAGE_QUEUE"]
        prefix = f"{cfg['CHAT_QUEUE_CHANNEL']}:reset"
        found = (
            LoginThrottle(None, cfg["CHAT_RESET_ADDRESS_LIMIT"], storage, prefix=prefix),
            LoginThrottle(cfg["CHAT_RESET_ACCOUNT_LIMIT"], None, storage, prefix=prefix),
        )
        found = app.extensions.setdefault("chat_reset_throttles", found)
    return found


def account_for(identifier):
    """The account a reset request names, by its name or its email address; None if none has mail."""
    identifier = identifier.strip()
    if "@" in identifier:
        column, key = User.email_key, email_key(identifier)
    else:
        column, key = User.name_key, name_key(identifier)
    user = db.session.execute(select(User).where(column == key).limit(1)).scalar_one_or_none()
    # A deactivated account gets no mail (the answer is the same page as for everyone).
    return user if user is not None and user.email and not user.is_guest and user.is_active else None


def request_reset(identifier, address, lang):
    """Mail a reset link to the account named (by name or email), if it has an address.

    Returns the seconds to wait when this address asked too often, else 0: the same for every
    name, known or not. An account asked for too often gets no more mail, silently.
    """
    by_address, by_account = reset_throttles()
    wait = by_address.admit("", address)
    if wait:
        return wait
    by_address.failed("", address)  # every request counts against its address
    if not mail_configured() or refused_character(identifier):
        return 0
    user = account_for(identifier)
    account = f"user:{user.id}" if user is not None else name_key(identifier.strip())
    if by_account.admit(account, address):
        log.info("reset requests for one account throttled")
        return 0
    if user is not None:
        send_reset_mail(user, lang)
    return 0


def refused_character(text):
    try:
        check_text(text, "name")
    except ChatError:
        return True
    return False


def send_reset_mail(user, lang):
    cfg = current_app.config
    token = secrets.token_urlsafe(32)
    now = utc_now()
    # The account's spent and expired links are of no use to anyone: they go.
    db.session.execute(
        delete(PasswordReset).where(
            PasswordReset.user_id == user.id, or_(PasswordReset.used_at.is_not(None), PasswordReset.expires_at <= now)
        )
    )
    db.session.add(
        PasswordReset(
            user_id=user.id,
            token_hash=token_hash(token),
            created_at=now,
            expires_at=now + timedelta(seconds=cfg["CHAT_RESET_TOKEN_TTL"]),
        )
    )
    db.session.commit()
    link = cfg["CHAT_BASE_URL"] + RESET_PATH + token
    minutes = cfg["CHAT_RESET_TOKEN_TTL"] // 60
    body = render_template(
        f"email/reset_password.{lang}.txt", name=user.display_name or user.name, link=link, minutes=minutes
    )
    subject = "パスワードの再設定" if lang == "ja" else "Reset your password"
    send_later(build_message(user.email, subject, body))
    log.info("reset link sent user=%s", user.id)


def valid_reset(token):
    """The PasswordReset behind a token from a link, if unused and unexpired; else None."""
    if not isinstance(token, str) or not 16 <= len(token) <= 128 or refused_character(token):
        return None
    found = db.session.execute(select(PasswordReset).filter_by(token_hash=token_hash(token))).scalar_one_or_none()
    if found is None or found.used_at is not None or found.expires_at <= utc_now():
        return None
    user = db.session.get(User, found.user_id)
    if user is None or not user.is_active:  # deactivated after the mail went out: the link is dead
        return None
    return found


def reset_password(token, new):
    """Use a reset link: a new password, the link and every other of the account spent, every
    session ended. ChatError invalid_token when the link is unknown, used or expired."""
    if valid_reset(token) is None:
        raise ChatError("invalid_token", "This link is not valid (used, expired or mistyped).")
    release_connection()
    password_hash = run_blocking(generate_password_hash, new)
    now = utc_now()
    claimed = db.session.execute(
        update(PasswordReset)
        .where(PasswordReset.token_hash == token_hash(token), PasswordReset.used_at.is_(None))
        .where(PasswordReset.expires_at > now)
        .values(used_at=now)
        .returning(PasswordReset.user_id)
    ).scalar_one_or_none()
    if claimed is None:  # used meanwhile, by another request
        db.session.rollback()
        raise ChatError("invalid_token", "This link is not valid (used, expired or mistyped).")
    db.session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == claimed, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    user = db.session.get(User, claimed)
    if not user.is_active:  # deactivated meanwhile
        db.session.rollback()
        raise ChatError("invalid_token", "This link is not valid (used, expired or mistyped).")
    user.password_hash = password_hash
    end_sessions(user)  # commits the hash, the spent links and the new generation
    log.info("password reset user=%s", user.id)
    return user
