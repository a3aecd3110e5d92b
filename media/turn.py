"""TURN credentials for clients, in the time-limited REST form that coturn's ``use-auth-secret`` accepts,
and the ``iceServers`` list a client's RTCPeerConnection is given.

coturn (``use-auth-secret`` + ``static-auth-secret=<secret>``) accepts username ``"<expiry unix time>:<user>"``
with password ``base64(HMAC-SHA1(secret, username))`` until the expiry time: the hub signs, coturn checks,
no database is shared. Pure functions, given the time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from media.settings import IceServer

_STUN_SCHEMES = ("stun:", "stuns:")
_TURN_SCHEMES = ("turn:", "turns:")


@dataclass(frozen=True)
class TurnCredentials:
    """One client's TURN username and password, valid until `expires_at` (unix seconds)."""

    username: str
    password: str
    expires_at: int


@dataclass(frozen=True)
class IceSettings:
    """The STUN/TURN servers clients are told about, and the TURN secret shared with coturn."""

    stun_urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    turn_secret: str | None = None
    #: How long issued TURN credentials stay valid.
    turn_lifetime_s: int = 3600

    def __post_init__(self) -> None:
        for url in self.stun_urls:
            if not url.startswith(_STUN_SCHEMES):
                raise ValueError(f"stun_urls: {url!r} must start with stun: or stuns:")
        for url in self.turn_urls:
            if not url.startswith(_TURN_SCHEMES):
                raise ValueError(f"turn_urls: {url!r} must start with turn: or turns:")
        if self.turn_urls and not self.turn_secret:
            raise ValueError(
                "turn_urls are set but turn_secret is not: coturn's static-auth-secret is needed"
            )
        if self.turn_lifetime_s <= 0:
            raise ValueError(f"turn_lifetime_s must be positive, got {self.turn_lifetime_s!r}")


def turn_credentials(secret: str, user: str, *, now: float, lifetime_s: int) -> TurnCredentials:
    """Credentials for `user` that coturn with ``static-auth-secret=secret`` accepts for `lifetime_s` seconds."""
    if not secret:
        raise ValueError("the TURN secret must not be empty")
    if not user or ":" in user:
        raise ValueError(f"the TURN user must be non-empty and contain no ':', got {user!r}")
    if lifetime_s <= 0:
        raise ValueError(f"lifetime_s must be positive, got {lifetime_s!r}")
    expires_at = int(now) + lifetime_s
    username = f"{expires_at}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return TurnCredentials(username, base64.b64encode(digest).decode("ascii"), expires_at)


def ice_servers_for(settings: IceSettings, user: str, *, now: float) -> list[IceServer]:
    """The ICE servers for one client: the STUN servers, and the TURN servers with fresh credentials."""
    servers: list[IceServer] = []
    if settings.stun_urls:
        servers.append(IceServer(settings.stun_urls))
    if settings.turn_urls:
        assert settings.turn_secret is not None
        credentials = turn_credentials(
            settings.turn_secret, user, now=now, lifetime_s=settings.turn_lifetime_s
        )
        servers.append(IceServer(settings.turn_urls, credentials.username, credentials.password))
    return servers


def client_ice_servers(settings: IceSettings, user: str, *, now: float) -> list[dict[str, object]]:
    """`ice_servers_for` as the JSON a browser's ``new RTCPeerConnection({iceServers})`` takes."""
    return [server.as_dict() for server in ice_servers_for(settings, user, now=now)]
