"""A stand-in push service on 127.0.0.1 (real HTTP): records each push, answers 201 (or what a
test sets per endpoint), and decrypts bodies with the subscription's own keys (RFC 8291)."""

import base64
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Browser:
    """One subscribed browser: its endpoint and its private keys."""

    def __init__(self, service, name):
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        self.path = f"/push/{name}"
        self.endpoint = f"http://127.0.0.1:{service.port}{self.path}"

    def subscription(self):
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"endpoint": self.endpoint, "keys": {"p256dh": b64url(point), "auth": b64url(self.auth)}}

    def decrypt(self, push):
        plain = http_ece.decrypt(push["body"], private_key=self.private_key, auth_secret=self.auth, version="aes128gcm")
        return json.loads(plain)


class PushService:
    def __init__(self):
        self.pushes = []
        self.status = {}  # path: status to answer
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                service.pushes.append(
                    {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
                )
                self.send_response(service.status.get(self.path, 201))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def browser(self, name):
        return Browser(self, name)

    def received(self, path):
        return [p for p in self.pushes if p["path"] == path]

    def wait_for(self, path, count=1, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.received(path)) >= count:
                return self.received(path)
            time.sleep(0.05)
        raise AssertionError(f"{count} push(es) to {path} expected, got {len(self.received(path))}")

    def close(self):
        self.server.shutdown()
        self.server.server_close()
