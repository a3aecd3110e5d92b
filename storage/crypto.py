"""Encryption primitives: swappable AEAD ciphers, the master key that wraps data keys, field encryption.

Every encrypted thing records the name of its algorithm, so SM4-GCM (GB/T 39786 deployments) can be
switched in for AES-256-GCM without re-reading old data with the wrong cipher. Keys derived from the
deployment secret are separated by HKDF labels, so no key is used for two purposes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_SIZE = 12
TAG_SIZE = 16


class DecryptionError(Exception):
    """Ciphertext, its associated data or the key do not match: the bytes were altered or the key is wrong."""


class Aead(Protocol):
    """An authenticated cipher with 12-byte nonces."""

    name: str
    key_size: int

    def encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """Ciphertext followed by the 16-byte tag."""

    def decrypt(self, key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        """The plaintext, or `DecryptionError`."""


class Aes256Gcm:
    """AES-256 in GCM mode (the default)."""

    name = "AES-256-GCM"
    key_size = 32

    def encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """Ciphertext followed by the 16-byte tag."""
        return AESGCM(key).encrypt(nonce, plaintext, aad)

    def decrypt(self, key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        """The plaintext, or `DecryptionError`."""
        try:
            return AESGCM(key).decrypt(nonce, ciphertext, aad)
        except InvalidTag as err:
            raise DecryptionError("authentication failed (AES-256-GCM)") from err


class Sm4Gcm:
    """SM4 (GB/T 32907) in GCM mode, for deployments that must use the national algorithms."""

    name = "SM4-GCM"
    key_size = 16

    def encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """Ciphertext followed by the 16-byte tag."""
        encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(aad)
        body = encryptor.update(plaintext) + encryptor.finalize()
        return body + encryptor.tag

    def decrypt(self, key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        """The plaintext, or `DecryptionError`."""
        if len(ciphertext) < TAG_SIZE:
            raise DecryptionError("ciphertext shorter than its tag (SM4-GCM)")
        body, tag = ciphertext[:-TAG_SIZE], ciphertext[-TAG_SIZE:]
        decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(aad)
        try:
            return decryptor.update(body) + decryptor.finalize()
        except InvalidTag as err:
            raise DecryptionError("authentication failed (SM4-GCM)") from err


CIPHERS: dict[str, Aead] = {c.name: c for c in (Aes256Gcm(), Sm4Gcm())}


def cipher_named(name: str) -> Aead:
    """The cipher registered under `name`, or `ValueError` quoting it."""
    try:
        return CIPHERS[name]
    except KeyError:
        raise ValueError(f"unknown cipher {name!r}; known: {sorted(CIPHERS)}") from None


def derive_key(secret: bytes, label: str, length: int = 32) -> bytes:
    """A key for one purpose (`label`) derived from the deployment secret with HKDF-SHA256."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=b"jiayi-v1", info=label.encode()).derive(
        secret
    )


@dataclass(frozen=True)
class MasterKey:
    """The key-encryption key: it wraps each object's data key and never touches data itself."""

    key: bytes
    cipher_name: str = "AES-256-GCM"

    def __post_init__(self) -> None:
        cipher = cipher_named(self.cipher_name)
        if len(self.key) < cipher.key_size:
            raise ValueError(f"master key must be at least {cipher.key_size} bytes for {self.cipher_name}")

    @property
    def key_id(self) -> str:
        """A short fingerprint stored with every wrapped key, to find the right master key after rotation."""
        return hashlib.sha256(b"jiayi-master-key-id" + self.key).hexdigest()[:16]

    def _kek(self) -> bytes:
        return self.key[: cipher_named(self.cipher_name).key_size]

    def wrap(self, data_key: bytes, context: bytes) -> bytes:
        """Encrypt a data key; `context` (e.g. the object id) is bound as associated data."""
        nonce = os.urandom(NONCE_SIZE)
        return nonce + cipher_named(self.cipher_name).encrypt(self._kek(), nonce, data_key, context)

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        """Decrypt a data key wrapped by `wrap` with the same `context`."""
        nonce, body = wrapped[:NONCE_SIZE], wrapped[NONCE_SIZE:]
        return cipher_named(self.cipher_name).decrypt(self._kek(), nonce, body, context)


@dataclass(frozen=True)
class FieldProtector:
    """Encrypts small sensitive fields (ID numbers) and computes a keyed index to find them by value."""

    encryption_key: bytes
    index_key: bytes
    cipher_name: str = "AES-256-GCM"

    def seal(self, value: str, context: str) -> bytes:
        """`algorithm-name NUL nonce ciphertext`, so the algorithm travels with the value."""
        cipher = cipher_named(self.cipher_name)
        nonce = os.urandom(NONCE_SIZE)
        key = self.encryption_key[: cipher.key_size]
        body = cipher.encrypt(key, nonce, value.encode(), context.encode())
        return cipher.name.encode() + b"\0" + nonce + body

    def open(self, sealed: bytes, context: str) -> str:
        """Decrypt a value sealed by `seal` with the same `context`."""
        name, _, rest = sealed.partition(b"\0")
        cipher = cipher_named(name.decode())
        key = self.encryption_key[: cipher.key_size]
        return cipher.decrypt(key, rest[:NONCE_SIZE], rest[NONCE_SIZE:], context.encode()).decode()

    def index(self, value: str) -> str:
        """HMAC-SHA256 of the value: equal values match, the value itself cannot be read back."""
        return hmac.new(self.index_key, value.encode(), hashlib.sha256).hexdigest()
