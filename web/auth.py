"""Bearer tokens (JWT, HS256) and the throttle on failed logins.

The same token authenticates the HTTP API and, later, the Socket.IO connection.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Protocol

import jwt
import redis.asyncio as aioredis

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


class FailureLog(Protocol):
    """Where failed-login times are kept: in memory (one node) or in Redis (shared by every node)."""

    async def recent(self, key: str, since: float) -> list[float]:
        """Failure times of `key` after `since`, oldest first (older ones may be forgotten)."""

    async def add(self, key: str, at: float, ttl_s: float) -> None:
        """Record a failure."""

    async def clear(self, key: str) -> None:
        """Forget a key's failures."""


class MemoryFailureLog:
    """Failures in this process."""

    def __init__(self) -> None:
        self._stamps: dict[str, deque[float]] = {}

    async def recent(self, key: str, since: float) -> list[float]:
        stamps = self._stamps.get(key)
        if stamps is None:
            return []
        while stamps and stamps[0] <= since:
            stamps.popleft()
        if not stamps:
            del self._stamps[key]
        return list(stamps)

    async def add(self, key: str, at: float, ttl_s: float) -> None:
        self._stamps.setdefault(key, deque()).append(at)

    async def clear(self, key: str) -> None:
        self._stamps.pop(key, None)


class RedisFailureLog:
    """Failures in Redis sorted sets (score = time), so every node counts the same attempts."""

    def __init__(self, url: str, prefix: str) -> None:
        self._redis = aioredis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=5)
        self._prefix = prefix

    def _key(self, key: str) -> str:
        return f"{self._prefix}:login:{key}"

    async def recent(self, key: str, since: float) -> list[float]:
        name = self._key(key)
        await self._redis.zremrangebyscore(name, "-inf", since)
        pairs: list[tuple[str, float]] = await self._redis.zrange(name, 0, -1, withscores=True)  # type: ignore[assignment]
        return [float(score) for _, score in pairs]

    async def add(self, key: str, at: float, ttl_s: float) -> None:
        name = self._key(key)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(name, {f"{at}:{uuid.uuid4().hex[:8]}": at})
            pipe.expire(name, int(ttl_s) + 1)
            await pipe.execute()

    async def clear(self, key: str) -> None:
        await self._redis.delete(self._key(key))

    async def close(self) -> None:
        await self._redis.aclose()


class LoginThrottle:
    """Counts failed logins per user name and per client address in a sliding window.

    A user name is locked after a few failures (guessing one account's password). An address gets
    many more: a community centre or a family shares one address behind NAT, and one resident's
    typos must not lock out the whole centre; a spray across many accounts from one address is
    still stopped. With several nodes the failures are kept in Redis, so the limits are the
    deployment's, not each node's.
    """

    def __init__(
        self, per_user: int, per_address: int, window_s: float, log: FailureLog | None = None
    ) -> None:
        self.per_user = per_user
        self.per_address = per_address
        self.window_s = window_s
        self.log: FailureLog = log or MemoryFailureLog()

    def _keys(self, username: str, address: str | None) -> list[tuple[str, int]]:
        return [(f"user:{username.lower()}", self.per_user), (f"addr:{address}", self.per_address)]

    async def retry_after(self, username: str, address: str | None, now: float | None = None) -> int:
        """Seconds until a login may be tried again for this user name from this address, or 0."""
        now = time.time() if now is None else now
        wait = 0.0
        for key, limit in self._keys(username, address):
            stamps = await self.log.recent(key, now - self.window_s)
            if len(stamps) >= limit:
                wait = max(wait, stamps[-limit] + self.window_s - now)
        return int(wait) + (1 if wait > 0 else 0)

    async def failed(self, username: str, address: str | None, now: float | None = None) -> None:
        """Record one failure against the user name and the address."""
        now = time.time() if now is None else now
        for key, _ in self._keys(username, address):
            await self.log.add(key, now, self.window_s)

    async def succeeded(self, username: str) -> None:
        """Forget the user name's failures after a successful login (the address keeps its count)."""
        await self.log.clear(f"user:{username.lower()}")
