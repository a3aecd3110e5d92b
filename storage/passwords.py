"""Password hashing with argon2id (argon2-cffi's defaults, RFC 9106's second recommended setting)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
# A hash to verify against when the user does not exist, so a wrong user name costs as much time as
# a wrong password and user names cannot be probed by timing.
_DUMMY = _HASHER.hash("jiayi-no-such-user")


def hash_password(password: str) -> str:
    """An argon2id hash of `password`, with its parameters and salt encoded in it."""
    if len(password) < 8:
        raise ValueError("password must be at least 8 characters")
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether `password` matches; a missing hash still costs one verification."""
    try:
        return _HASHER.verify(stored_hash or _DUMMY, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False
