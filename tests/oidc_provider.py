"""A small OpenID Connect provider for the tests: real HTTP on 127.0.0.1, really signed ID tokens.

One server holds several issuers (`<url>/<tenant>`), each with discovery, /authorize (consent is
automatic, for the user the test chose), /token (checks the client, the code, the redirect URI and
the PKCE verifier, then signs an RS256 ID token with joserfc) and /jwks. `mode` makes the token go
wrong in one chosen way; `requests` records what the client sent.
"""

import base64
import hashlib
import secrets
import threading
import time

from flask import Flask, abort, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey
from werkzeug.serving import make_server

CLIENT_ID = "chat-test-client"
CLIENT_SECRET = "chat-test-secret"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Provider:
    """The provider's behaviour, changed by the tests between sign-ins."""

    def __init__(self):
        self.key = RSAKey.generate_key(2048, parameters={"kid": "key-1", "use": "sig"})
        self.other_key = RSAKey.generate_key(2048, parameters={"kid": "key-1", "use": "sig"})
        self.user = {"sub": "u-1", "preferred_username": "alice", "name": "Alice Example"}
        self.mode = None  # None, or how the ID token goes wrong (see id_token)
        self.deny = False
        self.token_delay = 0.0
        self.metadata_issuer = None  # another issuer in the discovery document
        self.codes = {}
        self.requests = []
        self.url = None
        self.app = self.build()

    def issuer(self, tenant="a"):
        return f"{self.url}/{tenant}"

    def build(self):
        app = Flask("oidc-provider")

        @app.get("/<tenant>/.well-known/openid-configuration")
        def discovery(tenant):
            self.requests.append(("discovery", tenant, {}))
            base = self.issuer(tenant)
            return jsonify(
                issuer=self.metadata_issuer or base,
                authorization_endpoint=f"{base}/authorize",
                token_endpoint=f"{base}/token",
                jwks_uri=f"{base}/jwks",
                response_types_supported=["code"],
                subject_types_supported=["public"],
                id_token_signing_alg_values_supported=["RS256", "HS256", "none"],
                code_challenge_methods_supported=["S256"],
            )

        @app.get("/<tenant>/authorize")
        def authorize(tenant):
            args = request.args.to_dict()
            self.requests.append(("authorize", tenant, args))
            if args.get("client_id") != CLIENT_ID or args.get("response_type") != "code":
                abort(400)
            back = args["redirect_uri"]
            if self.deny:
                return redirect(f"{back}?error=access_denied&state={args.get('state', '')}")
            code = secrets.token_urlsafe(16)
            self.codes[code] = dict(args, tenant=tenant, user=dict(self.user))
            return redirect(f"{back}?code={code}&state={args['state']}")

        @app.post("/<tenant>/token")
        def token(tenant):
            form = request.form.to_dict()
            self.requests.append(("token", tenant, form))
            time.sleep(self.token_delay)
            auth = request.authorization
            if auth is None or (auth.username, auth.password) != (CLIENT_ID, CLIENT_SECRET):
                return jsonify(error="invalid_client"), 401
            grant = self.codes.pop(form.get("code", ""), None)
            if grant is None or grant["tenant"] != tenant or form.get("redirect_uri") != grant["redirect_uri"]:
                return jsonify(error="invalid_grant"), 400
            challenge = b64url(hashlib.sha256(form.get("code_verifier", "").encode()).digest())
            if grant.get("code_challenge_method") != "S256" or challenge != grant.get("code_challenge"):
                return jsonify(error="invalid_grant", error_description="PKCE"), 400
            answer = {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 300}
            if self.mode == "id_token_not_text":
                answer["id_token"] = {"sub": grant["user"]["sub"]}
            elif self.mode != "no_id_token":
                answer["id_token"] = self.id_token(tenant, grant)
            return jsonify(answer)

        @app.get("/<tenant>/jwks")
        def jwks(tenant):
            self.requests.append(("jwks", tenant, {}))
            if self.mode == "jwks_broken":
                return jsonify([{"kty": "RSA"}])
            return jsonify(KeySet([self.key]).as_dict(private=False))

        return app

    def id_token(self, tenant, grant):
        now = int(time.time())
        claims = {
            "iss": self.issuer(tenant),
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": grant.get("nonce"),
            **grant["user"],
        }
        header, key = {"alg": "RS256", "kid": "key-1"}, self.key
        if self.mode == "expired":
            claims.update(iat=now - 3600, exp=now - 1800)
        elif self.mode == "wrong_aud":
            claims["aud"] = "another-client"
        elif self.mode == "wrong_nonce":
            claims["nonce"] = "not-the-nonce"
        elif self.mode == "wrong_iss":
            claims["iss"] = self.issuer("elsewhere")
        elif self.mode == "wrong_key":
            key = self.other_key
        elif self.mode == "hs256":  # signed with the client secret, which the client also knows
            header, key = {"alg": "HS256", "kid": "key-1"}, OctKey.import_key(CLIENT_SECRET.encode() * 2)
        elif self.mode == "no_sub":
            claims.pop("sub")
        elif self.mode == "sub_not_text":
            claims["sub"] = 12345
        elif self.mode == "no_nonce":
            claims.pop("nonce")
        token = jwt.encode(header, claims, key, algorithms=[header["alg"]])
        if self.mode == "tampered":  # the same signature over another subject
            head, _, signature = token.split(".")
            token = ".".join([head, b64url(jwt.convert_claims(dict(claims, sub="admin"))), signature])
        return token

    def start(self):
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
