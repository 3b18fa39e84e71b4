"""`flask --app wsgi chat vapid-keys`: make the VAPID keys every node shares."""

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from .keys import new_keys, public_key_of, raw_private_key, write_pem


@click.command("vapid-keys")
@with_appcontext
@click.option("--env", "as_env", is_flag=True, help="Print CHAT_VAPID_* lines for the environment; write no file.")
def vapid_keys_command(as_env):
    """Make a VAPID key pair for Web Push, in CHAT_VAPID_FILE (instance/vapid.pem by default).

    Give every node the same keys (this file on shared storage, or the printed variables):
    browsers subscribe with the public key, and change it only knowing that every browser then
    has to subscribe again.
    """
    keys = new_keys()
    if as_env:
        click.echo(f"CHAT_VAPID_PRIVATE_KEY={raw_private_key(keys)}")
        click.echo(f"CHAT_VAPID_PUBLIC_KEY={public_key_of(keys)}")
        return
    path = Path(current_app.config["CHAT_VAPID_FILE"])
    try:
        write_pem(keys, path)
    except FileExistsError:
        raise click.ClickException(
            f"{path} exists: remove it first to make new keys (browsers must subscribe again)"
        ) from None
    click.echo(f"wrote {path}")
    click.echo(f"public key: {public_key_of(keys)}")
