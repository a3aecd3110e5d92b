"""The blob store keeps bytes encrypted on disk and refuses altered, swapped or shredded objects."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.blobstore import BlobCorrupted, BlobNotFound, BlobStore, KeyDestroyed, new_blob_id, write_sealed
from storage.crypto import MasterKey
from storage.db import create_engine, create_sessionmaker

PDF = b"%PDF-1.4\n" + b"report of blood glucose 7.4 mmol/L " * 200


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture(params=["AES-256-GCM", "SM4-GCM"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs", MasterKey(os.urandom(32), request.param), request.param)


async def test_round_trip_and_no_plaintext_on_disk(
    store: BlobStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        blob = await store.put(session, PDF, "application/pdf")
    raw = store.path_of(blob.id).read_bytes()
    assert b"%PDF" not in raw and b"glucose" not in raw
    assert blob.algorithm == store.cipher_name
    async with sessions() as session:
        assert await store.get(session, blob.id) == PDF


async def test_flipped_byte_fails(store: BlobStore, sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        blob = await store.put(session, PDF, "application/pdf")
    path = store.path_of(blob.id)
    raw = bytearray(path.read_bytes())
    raw[-40] ^= 0x01
    path.write_bytes(bytes(raw))
    async with sessions() as session:
        with pytest.raises(BlobCorrupted, match=blob.id):
            await store.get(session, blob.id)


async def test_swapped_files_fail(store: BlobStore, sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        key = await store.new_key(session)
        a = await store.put(session, b"resident A's report", "text/plain", key_id=key)
        b = await store.put(session, b"resident B's report", "text/plain", key_id=key)
    store.path_of(a.id).write_bytes(store.path_of(b.id).read_bytes())
    async with sessions() as session:
        with pytest.raises(BlobCorrupted):
            await store.get(session, a.id)


async def test_destroyed_key_shreds_every_object_under_it(
    store: BlobStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        key = await store.new_key(session)
        segments = [await store.put(session, os.urandom(1000), "video/webm", key_id=key) for _ in range(3)]
    async with sessions() as session, session.begin():
        await store.destroy_key(session, key)
    async with sessions() as session:
        for segment in segments:
            with pytest.raises(KeyDestroyed):
                await store.get(session, segment.id)


async def test_deleted_blob_is_gone(store: BlobStore, sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        blob = await store.put(session, b"x" * 10, "text/plain")
    async with sessions() as session, session.begin():
        await store.delete(session, blob.id)
    assert not store.path_of(blob.id).exists()
    async with sessions() as session:
        with pytest.raises(BlobNotFound):
            await store.get(session, blob.id)


async def test_rolled_back_write_leaves_an_orphan_that_sweep_removes(
    store: BlobStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session:
        async with session.begin():
            blob = await store.put(session, b"never committed", "text/plain")
            await session.rollback()
    assert store.path_of(blob.id).exists()
    async with sessions() as session:
        assert await store.sweep_orphans(session, min_age_s=3600) == 0  # too young: may be in flight
        assert await store.sweep_orphans(session, min_age_s=0) == 1
    assert not store.path_of(blob.id).exists()


async def test_other_master_key_cannot_read(
    store: BlobStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        blob = await store.put(session, PDF, "application/pdf")
    stranger = BlobStore(store.root, MasterKey(os.urandom(32), store.cipher_name), store.cipher_name)
    async with sessions() as session:
        with pytest.raises(Exception, match="master key"):
            await stranger.get(session, blob.id)


async def test_an_object_sealed_elsewhere_reads_back_once_registered(
    store: BlobStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """A media worker seals segments with the recording's key and no database; the hub registers them."""
    async with sessions() as session, session.begin():
        key_id = await store.new_key(session)
        algorithm, data_key = await store.data_key(session, key_id)
    blob_id = new_blob_id()
    segment = b"\x1aE\xdf\xa3" + b"webm cluster" * 100
    digest = write_sealed(store.root, blob_id, key_id, algorithm, data_key, segment)
    assert b"webm" not in store.path_of(blob_id).read_bytes()
    async with sessions() as session, session.begin():
        await store.register(
            session,
            blob_id=blob_id,
            key_id=key_id,
            algorithm=algorithm,
            content_type="video/webm",
            size=len(segment),
            sha256=digest,
        )
    async with sessions() as session:
        assert await store.get(session, blob_id) == segment
    async with sessions() as session, session.begin():
        with pytest.raises(BlobNotFound):
            await store.register(
                session,
                blob_id=new_blob_id(),
                key_id=key_id,
                algorithm=algorithm,
                content_type="video/webm",
                size=1,
                sha256=digest,
            )
