"""Mail: the standard library's smtplib and email.message, sent off the request path.

A message is handed to a background task that sends it on the blocking pool's threads
(chat/blocking.py): the request that asked for it answers at once, whether a mail goes out or not
(so its timing tells no one whether an address exists), and a slow SMTP server stalls no client.
"""

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app

from ..blocking import pool
from ..extensions import socketio

log = logging.getLogger("chat.mail")


def mail_configured(config=None):
    """Whether password reset mail can be sent: an SMTP host, a sender and a base URL for links."""
    config = config or current_app.config
    return bool(config["CHAT_SMTP_HOST"] and config["CHAT_SMTP_FROM"] and config["CHAT_BASE_URL"])


def smtp_settings(config):
    keys = ("HOST", "PORT", "USER", "PASSWORD", "STARTTLS", "TIMEOUT")
    return {key.lower(): config[f"CHAT_SMTP_{key}"] for key in keys}


def build_message(to, subject, body):
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["CHAT_SMTP_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=config["CHAT_SMTP_FROM"].rpartition("@")[2].strip(">") or None)
    message.set_content(body)
    return message


def deliver(settings, message):
    """Send one message now (blocking): STARTTLS when configured, then log in when a user is set."""
    with smtplib.SMTP(settings["host"], settings["port"], timeout=settings["timeout"]) as smtp:
        if settings["starttls"]:
            smtp.starttls(context=ssl.create_default_context())
        if settings["user"]:
            smtp.login(settings["user"], settings["password"] or "")
        smtp.send_message(message)


def send_later(message):
    """Send the message from a background task, on the blocking pool; failures are logged only."""
    app = current_app._get_current_object()
    socketio.start_background_task(send_in_background, app, smtp_settings(app.config), message)


def send_in_background(app, settings, message):
    try:
        pool(app).run(deliver, settings, message)
    except Exception as exc:  # noqa: BLE001 - nobody waits for this mail; the operator reads the log
        log.warning("mail to %s not sent: %s", message["To"], exc)
    else:
        log.info("mail sent: %s", message["Subject"])
