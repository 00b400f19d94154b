"""A test identity provider: an operator's OIDC issuer whose keys the tests generate, with its JWKS served on a free
local port, and the tokens it signs (good ones, and each kind of bad one)."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class IdentityProvider:
    """`issuer`, `jwks_url` and `audience` for an operator's `identity`; `token(...)` signs one. Stop it with
    `stop()` (a test that needs an unreachable provider stops it first)."""

    def __init__(self, audience: str = "vwt-predictions"):
        from joserfc.jwk import KeySet, RSAKey

        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-1", "use": "sig", "alg": "RS256"})
        self.stranger = RSAKey.generate_key(2048, parameters={"kid": "test-1", "use": "sig", "alg": "RS256"})
        jwks = json.dumps(KeySet([self.key]).as_dict(private=False)).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                self.send_response(200 if self.path == "/.well-known/jwks.json" else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(jwks if self.path == "/.well-known/jwks.json" else b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        port = self.server.server_address[1]
        self.issuer = f"http://127.0.0.1:{port}/"
        self.jwks_url = f"http://127.0.0.1:{port}/.well-known/jwks.json"
        self.audience = audience
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def identity(self, player_claim: str = "player_id") -> dict[str, str]:
        return {
            "issuer": self.issuer,
            "jwks_url": self.jwks_url,
            "audience": self.audience,
            "player_claim": player_claim,
        }

    def token(
        self,
        player: str | None = "p-1",
        *,
        expires_in: int = 300,
        not_before: int = 0,
        audience: str | None = None,
        issuer: str | None = None,
        stranger: bool = False,
    ) -> str:
        """A signed RS256 token for `player`; `stranger` signs it with a key the JWKS does not hold (same kid)."""
        from joserfc import jwt

        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": issuer or self.issuer,
            "aud": audience or self.audience,
            "sub": f"user-{player}",
            "iat": now,
            "nbf": now + not_before,
            "exp": now + expires_in,
        }
        if player is not None:
            claims["player_id"] = player
        return jwt.encode({"alg": "RS256", "kid": "test-1"}, claims, self.stranger if stranger else self.key)

    def unsigned(self, player: str = "p-1") -> str:
        """An `alg: none` token (no signature): what an attacker sends to a verifier that trusts the header."""
        now = int(time.time())
        part = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
        header = part({"alg": "none", "typ": "JWT"})
        return f"{header}.{part({'iss': self.issuer, 'aud': self.audience, 'exp': now + 300, 'player_id': player})}."

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
