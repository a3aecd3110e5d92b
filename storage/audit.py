"""The hash-chained audit trail: every read of a record and every change, tamper-evident.

Each entry's hash covers its own fields and the previous entry's hash. Appends are serialised by
updating the single `audit_head` row first, which takes a row lock on PostgreSQL and the write lock on
SQLite for the rest of the caller's transaction, so two transactions can never chain onto the same
predecessor. Appending in the caller's transaction means a change and its audit entry commit together
or not at all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from consult.access import Actor
from storage.models import AuditEventRow, AuditHeadRow, utcnow

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class AuditRecord:
    """What happened, by whom, to what, with what outcome (FHIR AuditEvent, flattened)."""

    action: str
    entity_type: str
    outcome: str = "success"
    entity_id: str | None = None
    resident_id: int | None = None
    actor_user_id: int | None = None
    actor_username: str | None = None
    actor_role: str | None = None
    purpose: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    remote_addr: str | None = None

    def __post_init__(self) -> None:
        if self.outcome not in ("success", "denied", "failure"):
            raise ValueError(f"outcome must be success, denied or failure, got {self.outcome!r}")
        # The columns' widths, checked here so SQLite (which does not enforce them) fails like PostgreSQL.
        for name, limit in (("action", 40), ("entity_type", 40), ("entity_id", 40), ("purpose", 200)):
            value = getattr(self, name)
            if value is not None and len(value) > limit:
                raise ValueError(
                    f"audit {name} is limited to {limit} characters, got {len(value)}: {value!r}"
                )


def record_for(
    actor: Actor | None,
    action: str,
    entity_type: str,
    entity_id: object = None,
    *,
    resident_id: int | None = None,
    outcome: str = "success",
    purpose: str | None = None,
    detail: dict[str, Any] | None = None,
    remote_addr: str | None = None,
) -> AuditRecord:
    """An audit record of `actor` (None: the system or an anonymous caller) doing `action`."""
    return AuditRecord(
        action=action,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        resident_id=resident_id,
        outcome=outcome,
        actor_user_id=actor.user_id if actor else None,
        actor_username=actor.username if actor else None,
        actor_role=actor.role.value if actor else None,
        purpose=purpose,
        detail=detail or {},
        remote_addr=remote_addr,
    )


def entry_hash(seq: int, at: datetime, prev_hash: str, record: AuditRecord) -> str:
    """SHA-256 over a canonical JSON of the entry and its predecessor's hash."""
    body = {
        "seq": seq,
        "at": at.isoformat(timespec="microseconds"),
        "prev": prev_hash,
        "action": record.action,
        "entity_type": record.entity_type,
        "entity_id": record.entity_id,
        "resident_id": record.resident_id,
        "outcome": record.outcome,
        "actor_user_id": record.actor_user_id,
        "actor_username": record.actor_username,
        "actor_role": record.actor_role,
        "purpose": record.purpose,
        "detail": record.detail,
        "remote_addr": record.remote_addr,
    }
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _record_of(row: AuditEventRow) -> AuditRecord:
    return AuditRecord(
        action=row.action,
        entity_type=row.entity_type,
        outcome=row.outcome,
        entity_id=row.entity_id,
        resident_id=row.resident_id,
        actor_user_id=row.actor_user_id,
        actor_username=row.actor_username,
        actor_role=row.actor_role,
        purpose=row.purpose,
        detail=row.detail,
        remote_addr=row.remote_addr,
    )


async def append(session: AsyncSession, record: AuditRecord, at: datetime | None = None) -> AuditEventRow:
    """Chain `record` onto the audit trail inside the caller's transaction."""
    # Write first: this is what serialises concurrent appenders (see the module docstring).
    await session.execute(update(AuditHeadRow).where(AuditHeadRow.id == 1).values(seq=AuditHeadRow.seq + 1))
    seq, prev_hash = (
        await session.execute(select(AuditHeadRow.seq, AuditHeadRow.last_hash).where(AuditHeadRow.id == 1))
    ).one()
    at = at or utcnow()
    digest = entry_hash(seq, at, prev_hash, record)
    row = AuditEventRow(
        seq=seq,
        at=at,
        prev_hash=prev_hash,
        hash=digest,
        action=record.action,
        entity_type=record.entity_type,
        entity_id=record.entity_id,
        resident_id=record.resident_id,
        outcome=record.outcome,
        actor_user_id=record.actor_user_id,
        actor_username=record.actor_username,
        actor_role=record.actor_role,
        purpose=record.purpose,
        detail=record.detail,
        remote_addr=record.remote_addr,
    )
    session.add(row)
    await session.execute(update(AuditHeadRow).where(AuditHeadRow.id == 1).values(last_hash=digest))
    await session.flush()
    return row


@dataclass(frozen=True)
class ChainReport:
    """The outcome of walking the chain: `first_bad_seq` names the first entry that does not fit."""

    checked: int
    ok: bool
    first_bad_seq: int | None = None
    problem: str | None = None


async def _rows(session: AsyncSession, batch: int = 1000) -> AsyncIterator[AuditEventRow]:
    last = 0
    while True:
        rows = (
            await session.scalars(
                select(AuditEventRow).where(AuditEventRow.seq > last).order_by(AuditEventRow.seq).limit(batch)
            )
        ).all()
        if not rows:
            return
        for row in rows:
            yield row
        last = rows[-1].seq
        session.expunge_all()


async def verify_chain(session: AsyncSession) -> ChainReport:
    """Walk every entry in order and report the first one edited, inserted or removed."""
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    async for row in _rows(session):
        if row.seq != expected_seq:
            return ChainReport(
                checked,
                False,
                expected_seq,
                f"entry {expected_seq} is missing (next present is {row.seq}): removed",
            )
        if row.prev_hash != prev_hash:
            return ChainReport(
                checked,
                False,
                row.seq,
                f"entry {row.seq} does not point at entry {row.seq - 1}: inserted or reordered",
            )
        if entry_hash(row.seq, row.at, row.prev_hash, _record_of(row)) != row.hash:
            return ChainReport(
                checked, False, row.seq, f"entry {row.seq} was edited: its hash does not match"
            )
        checked += 1
        expected_seq, prev_hash = row.seq + 1, row.hash
    head_seq, head_hash = (
        await session.execute(select(AuditHeadRow.seq, AuditHeadRow.last_hash).where(AuditHeadRow.id == 1))
    ).one()
    if head_seq != expected_seq - 1 or head_hash != prev_hash:
        return ChainReport(
            checked,
            False,
            expected_seq,
            f"the chain head says {head_seq} entries but {checked} were found: entries removed at the end",
        )
    return ChainReport(checked, True)


async def count(session: AsyncSession) -> int:
    """Number of audit entries."""
    return int(await session.scalar(select(func.count()).select_from(AuditEventRow)) or 0)
