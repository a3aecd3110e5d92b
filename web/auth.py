"""Bearer tokens (JWT, HS256) and the throttle on failed logins.

The same token authenticates the HTTP API and, later, the Socket.IO connection.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

import jwt

ISSUER = "jiayi"


class InvalidToken(Exception):
    """The token is missing, malformed, forged or expired; the message says which."""


@dataclass(frozen=True)
class TokenClaims:
    """What a valid token says about its bearer."""

    user_id: int
    role: str
    expires_at: int


class TokenIssuer:
    """Issues and checks signed, expiring access tokens."""

    def __init__(self, key: bytes, ttl_s: int) -> None:
        self._key = key
        self.ttl_s = ttl_s

    def issue(self, user_id: int, role: str, now: float | None = None) -> str:
        """A token for `user_id` valid for `ttl_s` seconds from `now`."""
        issued = int(now if now is not None else time.time())
        payload = {
            "iss": ISSUER,
            "sub": str(user_id),
            "role": role,
            "iat": issued,
            "exp": issued + self.ttl_s,
        }
        return jwt.encode(payload, self._key, algorithm="HS256")

    def check(self, token: str, now: float | None = None) -> TokenClaims:
        """The claims of a valid token, or `InvalidToken` saying what is wrong."""
        try:
            payload = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                issuer=ISSUER,
                # With an explicit `now` (the app's clock) the times are checked below, against it.
                options={
                    "require": ["exp", "iat", "sub", "iss"],
                    "verify_exp": now is None,
                    "verify_iat": now is None,
                },
            )
        except jwt.ExpiredSignatureError as err:
            raise InvalidToken("token expired; log in again") from err
        except jwt.InvalidTokenError as err:
            raise InvalidToken(f"invalid token: {err}") from err
        if now is not None and payload["exp"] <= now:
            raise InvalidToken("token expired; log in again")
        if now is not None and payload["iat"] > now + 60:
            raise InvalidToken("token issued in the future; check the server clocks")
        try:
            return TokenClaims(int(payload["sub"]), str(payload["role"]), int(payload["exp"]))
        except (KeyError, ValueError) as err:
            raise InvalidToken("token has malformed claims") from err


class LoginThrottle:
    """Counts failed logins per user name and per client address in a sliding window.

    A user name is locked after a few failures (guessing one account's password). An address gets
    many more: a community centre or a family shares one address behind NAT, and one resident's
    typos must not lock out the whole centre; a spray across many accounts from one address is
    still stopped. In memory, per node: with several nodes an attacker gets the allowance once per
    node, which is still a hard bound; a Redis-backed throttle comes with the multi-node issue.
    """

    def __init__(self, per_user: int, per_address: int, window_s: float) -> None:
        self.per_user = per_user
        self.per_address = per_address
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        stamps = self._failures.get(key)
        if stamps is None:
            return deque()
        while stamps and stamps[0] <= now - self.window_s:
            stamps.popleft()
        if not stamps:
            del self._failures[key]
        return stamps

    def _keys(self, username: str, address: str | None) -> list[tuple[str, int]]:
        return [(f"user:{username.lower()}", self.per_user), (f"addr:{address}", self.per_address)]

    def retry_after(self, username: str, address: str | None, now: float | None = None) -> int:
        """Seconds until a login may be tried again for this user name from this address, or 0."""
        now = time.monotonic() if now is None else now
        wait = 0.0
        for key, limit in self._keys(username, address):
            stamps = self._recent(key, now)
            if len(stamps) >= limit:
                wait = max(wait, stamps[-limit] + self.window_s - now)
        return int(wait) + (1 if wait > 0 else 0)

    def failed(self, username: str, address: str | None, now: float | None = None) -> None:
        """Record one failure against the user name and the address."""
        now = time.monotonic() if now is None else now
        for key, _ in self._keys(username, address):
            self._recent(key, now)
            self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, username: str) -> None:
        """Forget the user name's failures after a successful login (the address keeps its count)."""
        self._failures.pop(f"user:{username.lower()}", None)
