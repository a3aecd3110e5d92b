"""The encrypted blob store: uploads now, recording segments later, never plaintext on disk.

Envelope encryption: each object is sealed with a data key (AES-256-GCM by default, SM4-GCM when
configured); the data key is stored wrapped by the master key in `data_keys`. Several objects may
share one data key (a recording's segments), so destroying that key shreds them all at once.

On disk an object is `JYB1`, a two-byte header length, a JSON header (ids, algorithm, nonce) and the
ciphertext; the header is the AEAD's associated data, so swapping headers or bytes between objects
fails decryption. Files are written to a temporary name, fsynced and renamed, so a crash never leaves
half an object under a real name. A write whose database transaction later rolls back leaves an
orphan file, which `sweep_orphans` removes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.crypto import NONCE_SIZE, DecryptionError, MasterKey, cipher_named
from storage.models import BlobRow, DataKeyRow, utcnow

MAGIC = b"JYB1"


class BlobError(Exception):
    """Base of the blob store's errors."""


class BlobNotFound(BlobError):
    """No such object, or it was deleted."""


class KeyDestroyed(BlobError):
    """The object's data key was destroyed (crypto-shredded): its bytes can never be read again."""


class BlobCorrupted(BlobError):
    """The bytes on disk were altered or belong to another object."""


@dataclass(frozen=True)
class StoredBlob:
    """What a caller needs to know about a stored object."""

    id: str
    key_id: str
    algorithm: str
    content_type: str
    size: int
    sha256: str


def _seal(cipher_name: str, key: bytes, blob_id: str, key_id: str, data: bytes) -> bytes:
    cipher = cipher_named(cipher_name)
    nonce = os.urandom(NONCE_SIZE)
    header = json.dumps(
        {"v": 1, "id": blob_id, "key": key_id, "alg": cipher.name, "nonce": nonce.hex()},
        separators=(",", ":"),
    ).encode()
    body = cipher.encrypt(key, nonce, data, header)
    return MAGIC + len(header).to_bytes(2, "big") + header + body


def _open(raw: bytes, key: bytes, blob_id: str) -> bytes:
    if raw[:4] != MAGIC or len(raw) < 6:
        raise BlobCorrupted(f"blob {blob_id}: not a Jiayi blob file")
    length = int.from_bytes(raw[4:6], "big")
    header = raw[6 : 6 + length]
    try:
        meta = json.loads(header)
    except ValueError as err:
        raise BlobCorrupted(f"blob {blob_id}: header unreadable") from err
    if meta.get("id") != blob_id:
        raise BlobCorrupted(f"blob {blob_id}: file holds blob {meta.get('id')!r}")
    cipher = cipher_named(meta["alg"])
    try:
        return cipher.decrypt(key, bytes.fromhex(meta["nonce"]), raw[6 + length :], header)
    except DecryptionError as err:
        raise BlobCorrupted(f"blob {blob_id}: {err}") from err


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def blob_path(root: Path, blob_id: str) -> Path:
    """Where an object's bytes live under `root` (two levels of fan-out keep folders small)."""
    return root / blob_id[:2] / blob_id[2:4] / blob_id


def new_blob_id() -> str:
    """A fresh object id."""
    return secrets.token_hex(16)


def write_sealed(root: Path, blob_id: str, key_id: str, algorithm: str, data_key: bytes, data: bytes) -> str:
    """Seal `data` under the data key and write it as object `blob_id` (atomically, fsynced); returns
    its SHA-256. Blocking: for a media worker, which holds a recording's data key and no database;
    the object exists for readers once `BlobStore.register` records it."""
    _write_atomic(blob_path(root, blob_id), _seal(algorithm, data_key, blob_id, key_id, data))
    return hashlib.sha256(data).hexdigest()


class BlobStore:
    """Encrypted objects in a local folder, their facts and keys in the database."""

    def __init__(self, root: Path, master_key: MasterKey, cipher_name: str = "AES-256-GCM") -> None:
        cipher_named(cipher_name)  # fail at start-up, not at the first upload
        self.root = root
        self.master_key = master_key
        self.cipher_name = cipher_name

    def path_of(self, blob_id: str) -> Path:
        """Where the object's bytes live."""
        return blob_path(self.root, blob_id)

    async def new_key(self, session: AsyncSession) -> str:
        """Create a data key for one or more objects; returns its id."""
        key_id = secrets.token_hex(16)
        data_key = os.urandom(cipher_named(self.cipher_name).key_size)
        session.add(
            DataKeyRow(
                id=key_id,
                algorithm=self.cipher_name,
                wrapped=self.master_key.wrap(data_key, key_id.encode()),
                master_key_id=self.master_key.key_id,
            )
        )
        await session.flush()
        return key_id

    async def data_key(self, session: AsyncSession, key_id: str) -> tuple[str, bytes]:
        """The algorithm and the unwrapped data key, for a process that seals objects itself (a media
        worker recording segments with `write_sealed`); never stored or logged."""
        return await self._data_key(session, key_id)

    async def register(
        self,
        session: AsyncSession,
        *,
        blob_id: str,
        key_id: str,
        algorithm: str,
        content_type: str,
        size: int,
        sha256: str,
        created_by: int | None = None,
    ) -> StoredBlob:
        """Record an object written by `write_sealed` elsewhere (its file must exist)."""
        if not await asyncio.to_thread(self.path_of(blob_id).exists):
            raise BlobNotFound(f"blob {blob_id}: no such file to register")
        session.add(
            BlobRow(
                id=blob_id,
                key_id=key_id,
                algorithm=algorithm,
                content_type=content_type,
                size=size,
                sha256=sha256,
                created_by=created_by,
            )
        )
        await session.flush()
        return StoredBlob(blob_id, key_id, algorithm, content_type, size, sha256)

    async def _data_key(self, session: AsyncSession, key_id: str) -> tuple[str, bytes]:
        row = await session.get(DataKeyRow, key_id)
        if row is None:
            raise BlobNotFound(f"data key {key_id} does not exist")
        if row.wrapped is None:
            raise KeyDestroyed(f"data key {key_id} was destroyed at {row.destroyed_at}")
        if row.master_key_id != self.master_key.key_id:
            raise BlobError(
                f"data key {key_id} is wrapped by master key {row.master_key_id}, "
                f"but this node has {self.master_key.key_id}"
            )
        return row.algorithm, self.master_key.unwrap(row.wrapped, key_id.encode())

    async def put(
        self,
        session: AsyncSession,
        data: bytes,
        content_type: str,
        *,
        key_id: str | None = None,
        created_by: int | None = None,
    ) -> StoredBlob:
        """Encrypt and store `data`; under `key_id` if given, else under a new data key."""
        if key_id is None:
            key_id = await self.new_key(session)
        algorithm, data_key = await self._data_key(session, key_id)
        blob_id = new_blob_id()
        digest = await asyncio.to_thread(write_sealed, self.root, blob_id, key_id, algorithm, data_key, data)
        session.add(
            BlobRow(
                id=blob_id,
                key_id=key_id,
                algorithm=algorithm,
                content_type=content_type,
                size=len(data),
                sha256=digest,
                created_by=created_by,
            )
        )
        await session.flush()
        return StoredBlob(blob_id, key_id, algorithm, content_type, len(data), digest)

    async def get(self, session: AsyncSession, blob_id: str) -> bytes:
        """Decrypt and return an object's bytes."""
        row = await session.get(BlobRow, blob_id)
        if row is None or row.deleted_at is not None:
            raise BlobNotFound(f"blob {blob_id} does not exist")
        _, data_key = await self._data_key(session, row.key_id)
        try:
            raw = await asyncio.to_thread(self.path_of(blob_id).read_bytes)
        except FileNotFoundError as err:
            raise BlobNotFound(f"blob {blob_id}: its bytes are missing from disk") from err
        data = await asyncio.to_thread(_open, raw, data_key, blob_id)
        if hashlib.sha256(data).hexdigest() != row.sha256:
            raise BlobCorrupted(f"blob {blob_id}: content does not match its recorded digest")
        return data

    async def destroy_key(self, session: AsyncSession, key_id: str) -> None:
        """Crypto-shred: forget the wrapped data key, so every object under it is unreadable forever."""
        row = await session.get(DataKeyRow, key_id)
        if row is None:
            raise BlobNotFound(f"data key {key_id} does not exist")
        row.wrapped = None
        row.destroyed_at = utcnow()
        await session.flush()

    async def delete(self, session: AsyncSession, blob_id: str) -> None:
        """Remove an object's bytes and mark it deleted (its row stays as a tombstone)."""
        row = await session.get(BlobRow, blob_id)
        if row is None:
            raise BlobNotFound(f"blob {blob_id} does not exist")
        await asyncio.to_thread(self.path_of(blob_id).unlink, True)
        row.deleted_at = utcnow()
        await session.flush()

    async def sweep_orphans(self, session: AsyncSession, min_age_s: float = 3600) -> int:
        """Delete files that no row describes (left by rolled-back writes).

        Only files older than `min_age_s` go, so a write whose transaction is still open survives.
        """
        known = set((await session.scalars(select(BlobRow.id))).all())
        cutoff = time.time() - min_age_s

        def sweep() -> int:
            removed = 0
            for path in self.root.glob("??/??/*"):
                if path.name not in known and path.stat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)
                    removed += 1
            return removed

        return await asyncio.to_thread(sweep)
