"""Recordings in storage: purge destroys expired recordings (key first, then bytes) but never held ones."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from consult.recording import CONSENT_TEXT_VERSION, ConsentRecord, Decision, RecordingStatus
from consult.retention import RetentionPolicy
from storage import recordings
from storage.blobstore import BlobStore, KeyDestroyed
from storage.crypto import MasterKey
from storage.db import create_engine, create_sessionmaker
from storage.models import ConsultRow, RecordingRow, UserRow

ENDED = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs", MasterKey(os.urandom(32)))


async def _recording(
    sessions: async_sessionmaker[AsyncSession], store: BlobStore, segments: int = 2
) -> tuple[int, list[str], int]:
    """A recording of a demo consult, ended on ENDED, with segments of one video track."""
    async with sessions() as session, session.begin():
        consult_id = await session.scalar(select(ConsultRow.id).order_by(ConsultRow.id).limit(1))
        doctor = await session.scalar(select(UserRow.id).where(UserRow.username == "doctor"))
        assert consult_id is not None and doctor is not None
        row = await recordings.request(session, store, consult_id=consult_id, requested_by=doctor, now=ENDED)
        await recordings.add_consent(
            session, ConsentRecord(consult_id, doctor, Decision.GRANTED, ENDED, CONSENT_TEXT_VERSION), row.id
        )
        track = await recordings.track(session, row.id, doctor, "video", "VP8", "webm")
        blob_ids = []
        for seq in range(segments):
            blob = await store.put(session, b"\x1aE\xdf\xa3segment%d" % seq, "video/webm", key_id=row.key_id)
            await recordings.add_segment(session, track.id, seq, blob.id, seq * 10_000, 10_000)
            blob_ids.append(blob.id)
        row.status = RecordingStatus.ENDED.value
        row.ended_at = ENDED
        row.expires_on = recordings.expiry(RetentionPolicy(), ENDED, ENDED.date())
        return row.id, blob_ids, doctor


async def test_purge_destroys_expired_recordings_but_not_held_ones(
    sessions: async_sessionmaker[AsyncSession], store: BlobStore
) -> None:
    expired_id, expired_blobs, doctor = await _recording(sessions, store)
    held_id, held_blobs, _ = await _recording(sessions, store)
    async with sessions() as session, session.begin():
        hold = await recordings.set_hold(session, recordings.RECORDING, held_id, "投诉调查中", doctor, ENDED)
    day_before, due = date(2029, 11, 19), date(2029, 11, 20)
    async with sessions() as session, session.begin():
        assert await recordings.purge(session, store, day_before, ENDED) == []
    async with sessions() as session, session.begin():
        purged = await recordings.purge(session, store, due, ENDED + timedelta(days=1100))
    assert [(p.recording_id, p.segments) for p in purged] == [(expired_id, 2)]
    assert not any(store.path_of(b).exists() for b in expired_blobs)
    assert all(store.path_of(b).exists() for b in held_blobs)
    async with sessions() as session:
        tombstone = await session.get(RecordingRow, expired_id)
        assert tombstone is not None and tombstone.destroyed_at is not None
        with pytest.raises(KeyDestroyed):
            await store.data_key(session, tombstone.key_id)
        assert await store.get(session, held_blobs[0]) == b"\x1aE\xdf\xa3segment0"
        assert len(await recordings.consents(session, tombstone.consult_id)) == 2  # consent records stay

    async with sessions() as session, session.begin():
        await recordings.release_hold(session, hold.id, doctor, ENDED + timedelta(days=1101))
    async with sessions() as session, session.begin():
        purged = await recordings.purge(session, store, due, ENDED + timedelta(days=1102))
    assert [p.recording_id for p in purged] == [held_id]


async def test_a_hold_needs_a_reason(sessions: async_sessionmaker[AsyncSession], store: BlobStore) -> None:
    recording_id, _, doctor = await _recording(sessions, store, segments=0)
    async with sessions() as session, session.begin():
        with pytest.raises(ValueError, match="reason"):
            await recordings.set_hold(session, recordings.RECORDING, recording_id, " ", doctor, ENDED)
        assert await recordings.holds(session, recordings.RECORDING, recording_id) == []
