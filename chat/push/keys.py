"""VAPID keys (RFC 8292): the server's P-256 key pair that push services know it by.

From the environment (CHAT_VAPID_PRIVATE_KEY, a PEM or the raw key in base64url, and optionally
CHAT_VAPID_PUBLIC_KEY, which must then match), else from CHAT_VAPID_FILE (a PEM made by
`flask --app wsgi chat vapid-keys` or at first use). Every node must use the same keys: browsers
subscribed with one public key, and a push signed by another key is refused.
"""

import base64
import logging
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import current_app
from py_vapid import Vapid

from ..config import ConfigError

log = logging.getLogger("chat.push")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_key_of(vapid):
    """The application server key browsers subscribe with: the uncompressed point, base64url."""
    raw = vapid.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return b64url(raw)


def raw_private_key(vapid):
    return b64url(vapid.private_key.private_numbers().private_value.to_bytes(32, "big"))


def from_text(text):
    """A Vapid from a PEM or a base64url raw/DER private key; ConfigError for anything else."""
    try:
        if text.lstrip().startswith("-----BEGIN"):
            return Vapid.from_pem(text.encode())
        return Vapid.from_string(text)
    except Exception:  # noqa: BLE001 - whatever the parser says, the key is unusable
        raise ConfigError("CHAT_VAPID_PRIVATE_KEY is not a P-256 private key (PEM or base64url).") from None


def new_keys():
    vapid = Vapid()
    vapid.generate_keys()
    return vapid


def write_pem(vapid, path):
    """Write the private key's PEM to `path`, readable by its owner only; never over another file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = vapid.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)


def load(config):
    """The configured Vapid: from the environment, else the file (made when missing)."""
    if config["CHAT_VAPID_PRIVATE_KEY"]:
        vapid = from_text(config["CHAT_VAPID_PRIVATE_KEY"])
    else:
        path = Path(config["CHAT_VAPID_FILE"])
        if not path.exists():
            try:
                write_pem(new_keys(), path)
                log.info("made VAPID keys in %s (every node needs this file or the same keys)", path)
            except FileExistsError:  # another process of this node made it meanwhile
                pass
        vapid = Vapid.from_file(str(path))
    if not isinstance(vapid.private_key, ec.EllipticCurvePrivateKey) or vapid.private_key.curve.name != "secp256r1":
        raise ConfigError("The VAPID key must be a P-256 (secp256r1) key.")
    wanted = config["CHAT_VAPID_PUBLIC_KEY"]
    if wanted and wanted.rstrip("=") != public_key_of(vapid):
        raise ConfigError("CHAT_VAPID_PUBLIC_KEY does not belong to CHAT_VAPID_PRIVATE_KEY.")
    return vapid


def vapid(app=None):
    """The app's keys, loaded once."""
    app = app or current_app._get_current_object()
    found = app.extensions.get("chat_vapid")
    if found is None:
        found = app.extensions.setdefault("chat_vapid", load(app.config))
    return found


def subject(config):
    """The contact push services may write to (the VAPID `sub` claim)."""
    if config["CHAT_VAPID_SUBJECT"]:
        return config["CHAT_VAPID_SUBJECT"]
    base = config.get("CHAT_BASE_URL")
    return base if base and base.startswith("https://") else "mailto:chat@localhost"
