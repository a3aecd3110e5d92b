"""Recordings, their consents, segments and legal holds; and purging what has expired.

A recording has one data key in the blob store: every segment of every track is sealed with it, so
destroying the key (crypto-shredding) makes the whole recording unreadable at once, wherever copies of
its files went; the files are deleted afterwards and the rows stay as a tombstone.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from consult.recording import (
    ConsentRecord,
    Decision,
    RecordingStatus,
    TimelineEntry,
    TimelineKind,
)
from consult.retention import LegalHold, RecordKind, RetentionPolicy, add_years
from storage.blobstore import BlobNotFound, BlobStore
from storage.models import (
    BlobRow,
    ConsentRow,
    ConsultRow,
    ConversationRow,
    LegalHoldRow,
    MessageRow,
    RecordingRow,
    RecordingSegmentRow,
    RecordingTrackRow,
    TombstoneRow,
)

#: What a legal hold on a recording names as its entity.
RECORDING = "recording"


def consent_of(row: ConsentRow) -> ConsentRecord:
    """The domain view of a consent row."""
    return ConsentRecord(
        consult_id=row.consult_id,
        user_id=row.user_id,
        decision=Decision(row.decision),
        decided_at=row.decided_at,
        text_version=row.text_version,
        on_behalf_of_resident_id=row.on_behalf_of_resident_id,
        standing_consent_id=row.standing_consent_id,
    )


def hold_of(row: LegalHoldRow) -> LegalHold:
    """The domain view of a legal hold row."""
    return LegalHold(
        id=row.id,
        reason=row.reason,
        set_by_user_id=row.set_by,
        set_at=row.set_at,
        released_at=row.released_at,
        released_by_user_id=row.released_by,
    )


def entry_json(entry: TimelineEntry) -> dict[str, Any]:
    """A timeline mark as stored."""
    return {
        "at": entry.at.isoformat(),
        "kind": entry.kind.value,
        "reason": entry.reason,
        "user_ids": list(entry.user_ids),
    }


async def request(
    session: AsyncSession, blobs: BlobStore, *, consult_id: int, requested_by: int, now: datetime
) -> RecordingRow:
    """A new recording of the consult, waiting for consent, with a data key of its own."""
    key_id = await blobs.new_key(session)
    row = RecordingRow(
        consult_id=consult_id,
        requested_by=requested_by,
        requested_at=now,
        status=RecordingStatus.WAITING.value,
        key_id=key_id,
        algorithm=blobs.cipher_name,
        timeline=[entry_json(TimelineEntry(now, TimelineKind.REQUESTED, user_ids=(requested_by,)))],
    )
    session.add(row)
    await session.flush()
    return row


def mark(row: RecordingRow, status: RecordingStatus, entry: TimelineEntry | None) -> None:
    """Move the recording to `status`, adding the timeline mark."""
    row.status = status.value
    if entry is not None:
        row.timeline = [*row.timeline, entry_json(entry)]
        if entry.kind is TimelineKind.STARTED and row.started_at is None:
            row.started_at = entry.at


async def add_consent(session: AsyncSession, record: ConsentRecord, recording_id: int | None) -> ConsentRow:
    """Store an answer (never updated: a later answer is a new row)."""
    row = ConsentRow(
        consult_id=record.consult_id,
        recording_id=recording_id,
        user_id=record.user_id,
        on_behalf_of_resident_id=record.on_behalf_of_resident_id,
        decision=record.decision.value,
        decided_at=record.decided_at,
        text_version=record.text_version,
        standing_consent_id=record.standing_consent_id,
    )
    session.add(row)
    await session.flush()
    return row


async def consents(session: AsyncSession, consult_id: int) -> list[ConsentRecord]:
    """Every answer given in the consult, oldest first."""
    rows = await session.scalars(
        select(ConsentRow)
        .where(ConsentRow.consult_id == consult_id)
        .order_by(ConsentRow.decided_at, ConsentRow.id)
    )
    return [consent_of(r) for r in rows]


async def track(
    session: AsyncSession, recording_id: int, user_id: int, kind: str, codec: str, container: str
) -> RecordingTrackRow:
    """The recording's track of that participant and kind, created on its first segment."""
    row = await session.scalar(
        select(RecordingTrackRow).where(
            RecordingTrackRow.recording_id == recording_id,
            RecordingTrackRow.user_id == user_id,
            RecordingTrackRow.kind == kind,
        )
    )
    if row is None:
        row = RecordingTrackRow(
            recording_id=recording_id, user_id=user_id, kind=kind, codec=codec, container=container
        )
        session.add(row)
        await session.flush()
    return row


async def add_segment(
    session: AsyncSession, track_id: int, seq: int, blob_id: str, start_ms: int, duration_ms: int
) -> RecordingSegmentRow:
    """Record a segment already sealed and registered in the blob store."""
    row = RecordingSegmentRow(
        track_id=track_id, seq=seq, blob_id=blob_id, start_ms=start_ms, duration_ms=duration_ms
    )
    session.add(row)
    await session.flush()
    return row


# --- legal holds -------------------------------------------------------------------------------------


async def holds(session: AsyncSession, entity_type: str, entity_id: int) -> list[LegalHold]:
    """Every hold ever set on the entity, oldest first."""
    rows = await session.scalars(
        select(LegalHoldRow)
        .where(LegalHoldRow.entity_type == entity_type, LegalHoldRow.entity_id == entity_id)
        .order_by(LegalHoldRow.id)
    )
    return [hold_of(r) for r in rows]


async def set_hold(
    session: AsyncSession, entity_type: str, entity_id: int, reason: str, by: int, now: datetime
) -> LegalHold:
    """Hold the entity (a reason is required; the domain checks it)."""
    hold = LegalHold(0, reason, by, now)  # validates the reason before anything is written
    row = LegalHoldRow(
        entity_type=entity_type, entity_id=entity_id, reason=hold.reason.strip(), set_by=by, set_at=now
    )
    session.add(row)
    await session.flush()
    return hold_of(row)


async def release_hold(session: AsyncSession, hold_id: int, by: int, now: datetime) -> LegalHold | None:
    """Release an active hold; None if there is no such active hold."""
    row = await session.get(LegalHoldRow, hold_id)
    if row is None or row.released_at is not None:
        return None
    row.released_at, row.released_by = now, by
    await session.flush()
    return hold_of(row)


# --- retention --------------------------------------------------------------------------------------


def expiry(policy: RetentionPolicy, ended: datetime | None, today: date) -> date:
    """When a recording of a consult that ended at `ended` may be destroyed (counted from today if it
    has not ended)."""
    return policy.expires_on(RecordKind.RECORDING, ended.date() if ended else today)


@dataclass(frozen=True)
class Purged:
    """A recording destroyed by `purge`."""

    recording_id: int
    consult_id: int
    segments: int
    expired_on: date


async def purge(session: AsyncSession, blobs: BlobStore, today: date, now: datetime) -> list[Purged]:
    """Destroy every recording whose retention has run out and that no active hold protects: its data
    key first (crypto-shredding), then its segments' bytes; its rows stay as a tombstone."""
    held = exists().where(
        and_(
            LegalHoldRow.entity_type == RECORDING,
            LegalHoldRow.entity_id == RecordingRow.id,
            LegalHoldRow.released_at.is_(None),
        )
    )
    due = await session.scalars(
        select(RecordingRow)
        .where(
            RecordingRow.destroyed_at.is_(None),
            RecordingRow.expires_on.is_not(None),
            RecordingRow.expires_on <= today,
            ~held,
        )
        .order_by(RecordingRow.id)
        .with_for_update()
    )
    done: list[Purged] = []
    for row in due:
        await blobs.destroy_key(session, row.key_id)
        blob_ids = (
            await session.scalars(
                select(RecordingSegmentRow.blob_id)
                .join(RecordingTrackRow, RecordingTrackRow.id == RecordingSegmentRow.track_id)
                .where(RecordingTrackRow.recording_id == row.id)
            )
        ).all()
        for blob_id in blob_ids:
            with contextlib.suppress(BlobNotFound):  # already gone: the key is destroyed either way
                await blobs.delete(session, blob_id)
        row.destroyed_at = now
        row.destroyed_reason = "retention period over"
        assert row.expires_on is not None
        done.append(Purged(row.id, row.consult_id, len(blob_ids), row.expires_on))
    await session.flush()
    return done


ACTIVE = (RecordingStatus.WAITING.value, RecordingStatus.RUNNING.value, RecordingStatus.PAUSED.value)


async def active(session: AsyncSession, consult_id: int) -> RecordingRow | None:
    """The consult's recording that is waiting, running or paused, if any."""
    return await session.scalar(
        select(RecordingRow)
        .where(RecordingRow.consult_id == consult_id, RecordingRow.status.in_(ACTIVE))
        .order_by(RecordingRow.id.desc())
        .limit(1)
    )


async def active_consult_ids(session: AsyncSession, resident_id: int) -> list[int]:
    """The resident's consults whose recording is waiting, running or paused."""
    rows = await session.scalars(
        select(RecordingRow.consult_id)
        .join(ConsultRow, ConsultRow.id == RecordingRow.consult_id)
        .where(ConsultRow.resident_id == resident_id, RecordingRow.status.in_(ACTIVE))
        .distinct()
    )
    return sorted(rows.all())


async def decisions_for(session: AsyncSession, recording_id: int) -> list[ConsentRecord]:
    """The answers given to one recording request, oldest first."""
    rows = await session.scalars(
        select(ConsentRow)
        .where(ConsentRow.recording_id == recording_id)
        .order_by(ConsentRow.decided_at, ConsentRow.id)
    )
    return [consent_of(r) for r in rows]


# --- chats and medical records ----------------------------------------------------------------------

#: What a legal hold on a consult names as its entity (it protects the consult's chat and note).
CONSULT = "consult"


def _held(entity_type: str, entity_id: Any) -> Any:
    return exists().where(
        and_(
            LegalHoldRow.entity_type == entity_type,
            LegalHoldRow.entity_id == entity_id,
            LegalHoldRow.released_at.is_(None),
        )
    )


async def _destroy_messages(session: AsyncSession, blobs: BlobStore, message_ids: list[int]) -> int:
    """Delete messages and shred their attachments (each attachment has a data key of its own)."""
    if not message_ids:
        return 0
    rows = list(await session.scalars(select(MessageRow).where(MessageRow.id.in_(message_ids))))
    attachment_ids = {r.attachment_id for r in rows if r.attachment_id}
    await session.execute(delete(MessageRow).where(MessageRow.id.in_(message_ids)))
    for attachment_id in attachment_ids:
        blob = await session.get(BlobRow, attachment_id)
        if blob is not None:
            with contextlib.suppress(BlobNotFound):
                await blobs.destroy_key(session, blob.key_id)
                await blobs.delete(session, blob.id)
    return len(rows)


async def purge_records(
    session: AsyncSession, blobs: BlobStore, policy: RetentionPolicy, today: date, now: datetime
) -> list[TombstoneRow]:
    """Destroy chats and medical records whose retention ran out, leaving a tombstone for each:

    * a consult's chat, `chat_years` after the consult ended, unless the consult is on hold;
    * care-team messages, `chat_years` after they were sent, unless their resident's consults are held;
    * a resident's visit notes, `medical_record_years` after their last visit (their latest consult).
    """
    tombstones: list[TombstoneRow] = []
    chat_cutoff = add_years(today, -policy.chat_years)
    ended = await session.execute(
        select(ConsultRow.id, ConsultRow.ended_at, ConversationRow.id)
        .join(ConversationRow, ConversationRow.consult_id == ConsultRow.id)
        .where(ConsultRow.ended_at.is_not(None), ~_held(CONSULT, ConsultRow.id))
    )
    for consult_id, ended_at, conversation_id in ended:
        assert ended_at is not None
        expires = policy.expires_on(RecordKind.CHAT, ended_at.date())
        if expires > today:
            continue
        ids = list(
            (
                await session.scalars(
                    select(MessageRow.id).where(MessageRow.conversation_id == conversation_id)
                )
            ).all()
        )
        if ids:
            count = await _destroy_messages(session, blobs, ids)
            tombstones.append(
                _tombstone(CONSULT, consult_id, RecordKind.CHAT, expires, now, {"messages": count})
            )
    # Care-team messages expire one by one, by when they were sent.
    sent_before = datetime.combine(chat_cutoff, datetime.min.time(), tzinfo=now.tzinfo)
    old = await session.execute(
        select(MessageRow.id, MessageRow.conversation_id)
        .join(ConversationRow, ConversationRow.id == MessageRow.conversation_id)
        .where(ConversationRow.consult_id.is_(None), MessageRow.created_at < sent_before)
    )
    by_conversation: dict[int, list[int]] = {}
    for message_id, conversation_id in old:
        by_conversation.setdefault(conversation_id, []).append(message_id)
    for conversation_id, ids in sorted(by_conversation.items()):
        count = await _destroy_messages(session, blobs, ids)
        tombstones.append(
            _tombstone(
                "conversation",
                conversation_id,
                RecordKind.CHAT,
                today,
                now,
                {"messages": count, "sent_before": chat_cutoff.isoformat()},
            )
        )
    last_visit = (
        select(ConsultRow.resident_id, func.max(ConsultRow.ended_at).label("last"))
        .where(ConsultRow.ended_at.is_not(None))
        .group_by(ConsultRow.resident_id)
        .subquery()
    )
    for resident_id, last in await session.execute(select(last_visit.c.resident_id, last_visit.c.last)):
        last_day = last.date() if isinstance(last, datetime) else date.fromisoformat(str(last)[:10])
        expires = policy.expires_on(RecordKind.MEDICAL_RECORD, last_day)
        if expires > today:
            continue
        noted = list(
            await session.scalars(
                select(ConsultRow).where(
                    ConsultRow.resident_id == resident_id,
                    ~_held(CONSULT, ConsultRow.id),
                )
            )
        )
        for consult in noted:
            if not consult.note:
                continue
            consult.note, consult.next_visit_on = {}, None
            tombstones.append(
                _tombstone(
                    CONSULT, consult.id, RecordKind.MEDICAL_RECORD, expires, now, {"resident_id": resident_id}
                )
            )
    session.add_all(tombstones)
    await session.flush()
    return tombstones


def _tombstone(
    entity_type: str,
    entity_id: int,
    kind: RecordKind,
    expired_on: date,
    now: datetime,
    detail: dict[str, Any],
) -> TombstoneRow:
    return TombstoneRow(
        entity_type=entity_type,
        entity_id=entity_id,
        kind=kind.value,
        expired_on=expired_on,
        destroyed_at=now,
        detail=detail,
    )
