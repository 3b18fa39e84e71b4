"""`flask --app wsgi chat …`: operations from outside the web nodes."""

import click
from flask import current_app
from flask.cli import AppGroup

from .accounts.oidc import link_identity, unlink_identity
from .accounts.sessions import set_password
from .admin.actions import do_deactivate, do_reactivate, do_set_admin
from .cluster.queue import external_emitter, queue_manager
from .errors import ChatError
from .extensions import db
from .messages.store import store_and_send
from .models import User
from .names import name_key
from .push.commands import vapid_keys_command
from .retention.job import prune_once
from .rooms.access import find_room, ref_for
from .validation import message_text, room_name

chat_cli = AppGroup("chat", help="Chat operations (announcements to the running nodes).")

# Who an announcement is from: no account, a fixed name and "sid".
ANNOUNCER = {"id": None, "name": "system", "guest": False}
ANNOUNCER_SID = "system"


@chat_cli.command("announce")
@click.option("--room", default=None, help="A room's name; without it, everyone gets it (like send_message).")
@click.argument("text")
def announce_command(room, text):
    """Store TEXT like any message and send it live to the clients of every node.

    Needs CHAT_MESSAGE_QUEUE (the nodes' Redis): the message goes out through Flask-SocketIO's
    write-only mode, as if a node had sent it.
    """
    config = current_app.config
    url = config.get("CHAT_MESSAGE_QUEUE")
    if not url:
        raise click.ClickException(
            "CHAT_MESSAGE_QUEUE is not set: without the nodes' message queue an announcement would be "
            "stored but reach nobody live. Set it to the nodes' Redis URL (and CHAT_QUEUE_CHANNEL "
            "if they use one)."
        )
    try:
        payload, delivered = announce(text, room)
    except ChatError as exc:
        raise click.ClickException(exc.message) from None
    where = f"room '{room}'" if room is not None else "everyone"
    if not delivered:
        raise click.ClickException(
            f"stored as message {payload['id']} for {where}, but Redis did not take it: clients get it "
            "when they catch up (reconnect or the next message in the channel)."
        )
    click.echo(f"announced to {where}: message {payload['id']}")


def announce(text, room=None):
    """Store and publish an announcement; returns (payload, delivered through the queue)."""
    config = current_app.config
    text = message_text({"message": text})
    ref = None
    if room is not None:
        record = find_room(room_name({"room": room}))
        if record is None or getattr(record, "kind", "room") != "room":
            raise ChatError("unknown_room", f"No room called '{room}'.")
        ref = ref_for(record)
    with external_emitter(config["CHAT_MESSAGE_QUEUE"], config["CHAT_QUEUE_CHANNEL"]):
        payload, _ = store_and_send(ANNOUNCER, ANNOUNCER_SID, ref, text, None, "room_message" if ref else "message")
        delivered = queue_manager().publish_failed_at is None  # a fresh manager: set only by this publish
    return payload, delivered


@chat_cli.command("admin")
@click.option("--revoke", is_flag=True, help="Take the admin right away instead.")
@click.argument("name")
def admin_command(name, revoke):
    """Make the user NAME an admin (an admin may delete anyone's message), or stop that with --revoke."""
    user = db.session.execute(db.select(User).filter_by(name_key=name_key(name))).scalar_one_or_none()
    if user is None:
        raise click.ClickException(f"No user called '{name}'.")
    try:
        do_set_admin(None, user, not revoke)  # audited as "cli"
    except ChatError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{user.name} is {'no longer' if revoke else 'now'} an admin")


@chat_cli.command("deactivate")
@click.option("--undo", is_flag=True, help="Reactivate the account instead.")
@click.argument("name")
def deactivate_command(name, undo):
    """Deactivate the user NAME (no login; sessions end; with CHAT_MESSAGE_QUEUE their sockets close
    on every node at once), or reactivate them with --undo."""
    user = db.session.execute(db.select(User).filter_by(name_key=name_key(name))).scalar_one_or_none()
    if user is None:
        raise click.ClickException(f"No user called '{name}'.")
    action = do_reactivate if undo else do_deactivate
    url = current_app.config.get("CHAT_MESSAGE_QUEUE")
    try:
        if url:
            with external_emitter(url, current_app.config["CHAT_QUEUE_CHANNEL"]):
                action(None, user)
        else:
            action(None, user)
    except ChatError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{user.name} is {'active again' if undo else 'deactivated'}")


@chat_cli.command("reset-password")
@click.argument("name")
@click.password_option(help="The new password (asked for when not given).")
def reset_password_command(name, password):
    """Give the user NAME a new password, and end every session they have on every node.

    With CHAT_MESSAGE_QUEUE set (the nodes' Redis) their open sockets close at once; without it
    the sockets of a running server stay open until they reconnect (then they are refused).
    """
    config = current_app.config
    low, high = config["CHAT_MIN_PASSWORD_LENGTH"], config["CHAT_MAX_PASSWORD_LENGTH"]
    if not low <= len(password) <= high:
        raise click.ClickException(f"The password must have {low}–{high} characters.")
    user = db.session.execute(db.select(User).filter_by(name_key=name_key(name))).scalar_one_or_none()
    if user is None:
        raise click.ClickException(f"No user called '{name}'.")
    url = config.get("CHAT_MESSAGE_QUEUE")
    if url:
        with external_emitter(url, config["CHAT_QUEUE_CHANNEL"]):
            set_password(user, password)
    else:
        set_password(user, password)
    click.echo(f"{user.name} has a new password; their sessions have ended")


@chat_cli.command("sso-link")
@click.option("--unlink", is_flag=True, help="Remove the link instead.")
@click.option("--issuer", default=None, help="The provider's issuer URL (default: CHAT_OIDC_ISSUER).")
@click.argument("name")
@click.argument("subject")
def sso_link_command(name, subject, issuer, unlink):
    """Let the single sign-on identity SUBJECT (the ID token's `sub`) sign in as the user NAME, or stop
    that with --unlink. With CHAT_OIDC_CREATE_USERS off, only identities linked so sign in."""
    issuer = issuer or current_app.config["CHAT_OIDC_ISSUER"]
    if not issuer:
        raise click.ClickException("No issuer: set CHAT_OIDC_ISSUER or give --issuer.")
    if not 0 < len(subject) <= 255:
        raise click.ClickException("SUBJECT must have 1–255 characters.")
    user = db.session.execute(db.select(User).filter_by(name_key=name_key(name))).scalar_one_or_none()
    if user is None:
        raise click.ClickException(f"No user called '{name}'.")
    if unlink:
        if not unlink_identity(user, issuer, subject):
            raise click.ClickException(f"{user.name} is not linked to {subject!r} at {issuer}.")
        click.echo(f"{user.name} no longer signs in as {subject!r} at {issuer}")
        return
    try:
        link_identity(user, issuer, subject)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{user.name} signs in as {subject!r} at {issuer}")


@chat_cli.command("prune")
def prune_command():
    """Remove messages (and their files) past their retention (CHAT_RETENTION_DAYS, rooms' own)."""
    result = prune_once()
    if result is None:
        raise click.ClickException("another node is pruning right now (it holds the lock); try again later")
    click.echo(f"pruned {result.messages} messages and {result.files} files")
    for room, count in sorted(result.rooms.items()):
        click.echo(f"  {room or '(everyone)'}: {count}")


chat_cli.add_command(vapid_keys_command)


def init_app(app):
    app.cli.add_command(chat_cli)
