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


async def test_chats_and_notes_are_purged_by_their_own_clocks_and_holds_keep_them(
    sessions: async_sessionmaker[AsyncSession], store: BlobStore
) -> None:
    from consult.messaging import MessageKind
    from storage import messages
    from storage.models import MessageRow, TombstoneRow

    policy = RetentionPolicy()
    long_ago = datetime(2010, 3, 1, 9, 0, tzinfo=UTC)  # more than 15 years before "today"
    today = date(2026, 11, 20)
    async with sessions() as session, session.begin():
        doctor = await session.scalar(select(UserRow).where(UserRow.username == "doctor"))
        assert doctor is not None
        rows = list(await session.scalars(select(ConsultRow).order_by(ConsultRow.id).limit(1)))
        resident_id = rows[0].resident_id
        made = []
        for _ in range(2):
            consult = ConsultRow(
                kind="follow_up",
                mode="video",
                resident_id=resident_id,
                status="ended",
                created_by=doctor.id,
                started_at=long_ago,
                ended_at=long_ago,
                note={"subjective": "头晕"},
            )
            session.add(consult)
            await session.flush()
            chat = await messages.consult_conversation(session, consult.id, resident_id, None)
            photo = await store.put(session, b"\x89PNG fake photo", "image/png")
            await messages.add_attachment(
                session,
                blob_id=photo.id,
                conversation_id=chat.id,
                uploaded_by=doctor.id,
                filename="bp.png",
                content_type="image/png",
                size=15,
            )
            for text, attachment in (("血压 150/95", None), ("照片", photo.id)):
                await messages.add_message(
                    session,
                    messages.NewMessage(
                        conversation_id=chat.id,
                        kind=MessageKind.IMAGE if attachment else MessageKind.TEXT,
                        sender_user_id=doctor.id,
                        sender_role="doctor",
                        sender_name="王医生",
                        text=text,
                        attachment_id=attachment,
                        created_at=long_ago,
                    ),
                )
            made.append((consult.id, chat.id, photo.id))
        held_consult = made[1][0]
        await recordings.set_hold(session, recordings.CONSULT, held_consult, "医疗纠纷", doctor.id, long_ago)
        # The resident's latest visit decides the notes: nothing newer than 2010 for this test resident.
        for other in await session.scalars(select(ConsultRow).where(ConsultRow.resident_id == resident_id)):
            if other.id not in {m[0] for m in made}:
                other.ended_at = long_ago

    async with sessions() as session, session.begin():
        stones = await recordings.purge_records(session, store, policy, today, ENDED)
    purged_consult, purged_chat, purged_photo = made[0]
    kinds = {(s.entity_type, s.entity_id, s.kind) for s in stones}
    assert ("consult", purged_consult, "chat") in kinds and (
        "consult",
        purged_consult,
        "medical_record",
    ) in kinds
    assert not any(s.entity_id == held_consult for s in stones)
    async with sessions() as session:
        left = (await session.scalars(select(MessageRow.conversation_id))).all()
        assert purged_chat not in left and made[1][1] in left  # the held consult's chat stays
        assert not store.path_of(purged_photo).exists() and store.path_of(made[1][2]).exists()
        assert (await session.get(ConsultRow, purged_consult)).note == {}  # type: ignore[union-attr]
        assert (await session.get(ConsultRow, held_consult)).note == {"subjective": "头晕"}  # type: ignore[union-attr]
        assert len((await session.scalars(select(TombstoneRow))).all()) == len(stones)
    async with sessions() as session, session.begin():  # nothing left to purge: a second run does nothing
        assert await recordings.purge_records(session, store, policy, today, ENDED) == []
