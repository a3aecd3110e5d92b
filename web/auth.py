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
                options={"require": ["exp", "iat", "sub", "iss"], "verify_exp": now is None},
            )
        except jwt.ExpiredSignatureError as err:
            raise InvalidToken("token expired; log in again") from err
        except jwt.InvalidTokenError as err:
            raise InvalidToken(f"invalid token: {err}") from err
        if now is not None and payload["exp"] <= now:
            raise InvalidToken("token expired; log in again")
        try:
            return TokenClaims(int(payload["sub"]), str(payload["role"]), int(payload["exp"]))
        except (KeyError, ValueError) as err:
            raise InvalidToken("token has malformed claims") from err


class LoginThrottle:
    """Counts failed logins per user name and per client address in a sliding window.

    In memory, per node: with several nodes an attacker gets `max_failures` per node, which is
    still a hard bound; a Redis-backed throttle comes with the multi-node issue.
    """

    def __init__(self, max_failures: int, window_s: float) -> None:
        self.max_failures = max_failures
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

    def retry_after(self, keys: list[str], now: float | None = None) -> int:
        """Seconds until a login may be tried again for any of `keys`, or 0 if allowed now."""
        now = time.monotonic() if now is None else now
        wait = 0.0
        for key in keys:
            stamps = self._recent(key, now)
            if len(stamps) >= self.max_failures:
                wait = max(wait, stamps[0] + self.window_s - now)
        return int(wait) + (1 if wait > 0 else 0)

    def failed(self, keys: list[str], now: float | None = None) -> None:
        """Record one failure against every key."""
        now = time.monotonic() if now is None else now
        for key in keys:
            self._recent(key, now)
            self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, keys: list[str]) -> None:
        """Forget the failures of a user name after a successful login."""
        for key in keys:
            self._failures.pop(key, None)
