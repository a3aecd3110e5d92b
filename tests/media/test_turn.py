"""TURN REST credentials as coturn's use-auth-secret checks them, and the iceServers list for clients."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from media.turn import IceSettings, client_ice_servers, turn_credentials

SECRET = "coturn-shared-secret"


def test_credentials_match_a_vector_computed_with_openssl() -> None:
    # printf '%s' "1700003600:resident-42" | openssl dgst -sha1 -hmac coturn-shared-secret -binary | base64
    credentials = turn_credentials(SECRET, "resident-42", now=1_700_000_000.7, lifetime_s=3600)
    assert credentials.username == "1700003600:resident-42"
    assert credentials.password == "6jTwt9+8ECniWwAJzoWMHK44DhA="
    assert credentials.expires_at == 1_700_003_600


def test_the_password_is_what_coturn_recomputes_for_the_username() -> None:
    credentials = turn_credentials(SECRET, "doctor-7", now=1_800_000_000, lifetime_s=600)
    expected = base64.b64encode(
        hmac.new(SECRET.encode(), b"1800000600:doctor-7", hashlib.sha1).digest()
    ).decode()
    assert credentials.password == expected
    # Another user, another time or another secret gives another password.
    assert turn_credentials(SECRET, "doctor-8", now=1_800_000_000, lifetime_s=600).password != expected
    assert turn_credentials(SECRET, "doctor-7", now=1_800_000_001, lifetime_s=600).password != expected
    assert turn_credentials("other", "doctor-7", now=1_800_000_000, lifetime_s=600).password != expected


@pytest.mark.parametrize(
    ("secret", "user", "lifetime", "message"),
    [("", "u", 60, "secret"), ("s", "", 60, "user"), ("s", "a:b", 60, "user"), ("s", "u", 0, "lifetime")],
)
def test_bad_inputs_are_refused(secret: str, user: str, lifetime: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        turn_credentials(secret, user, now=0, lifetime_s=lifetime)


def test_ice_servers_for_a_browser() -> None:
    settings = IceSettings(
        stun_urls=("stun:turn.example.org:3478",),
        turn_urls=("turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"),
        turn_secret=SECRET,
        turn_lifetime_s=3600,
    )
    servers = client_ice_servers(settings, "resident-42", now=1_700_000_000)
    assert servers == [
        {"urls": ["stun:turn.example.org:3478"]},
        {
            "urls": ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"],
            "username": "1700003600:resident-42",
            "credential": "6jTwt9+8ECniWwAJzoWMHK44DhA=",
        },
    ]
    assert client_ice_servers(IceSettings(), "resident-42", now=0) == []


def test_ice_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="turn_secret"):
        IceSettings(turn_urls=("turn:t.example.org",))
    with pytest.raises(ValueError, match="stun"):
        IceSettings(stun_urls=("http://t.example.org",))
    with pytest.raises(ValueError, match="turn_lifetime_s"):
        IceSettings(turn_lifetime_s=0)
