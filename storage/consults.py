"""Consults, their participants and visit notes."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from consult.consult import (
    Consult,
    ConsultKind,
    ConsultMode,
    ConsultStatus,
    Participant,
    ParticipantRole,
    VisitNote,
    Vitals,
    check_transition,
)
from consult.followup import FollowUpPlan, FollowUpTask, TaskStatus, next_due_date
from storage import followups
from storage.models import ConsultParticipantRow, ConsultRow, FollowUpTaskRow


def note_to_json(note: VisitNote) -> dict[str, Any]:
    """A visit note as stored (plain JSON)."""
    return dataclasses.asdict(note)


def note_from_json(data: dict[str, Any]) -> VisitNote:
    """A stored visit note back as a dataclass."""
    if not data:
        return VisitNote()
    vitals = Vitals(**data.get("vitals", {}))
    return VisitNote(
        subjective=data.get("subjective", ""),
        objective=data.get("objective", ""),
        vitals=vitals,
        assessment=data.get("assessment", ""),
        plan=data.get("plan", ""),
    )


def consult_of(row: ConsultRow, followup_task_id: int | None = None) -> Consult:
    """The domain view of a consult row loaded with its participants."""
    return Consult(
        id=row.id,
        kind=ConsultKind(row.kind),
        mode=ConsultMode(row.mode),
        resident_id=row.resident_id,
        team_id=row.team_id,
        status=ConsultStatus(row.status),
        scheduled_at=row.scheduled_at,
        created_at=row.created_at,
        condition_id=row.condition_id,
        followup_task_id=followup_task_id,
        referral_id=row.referral_id,
        started_at=row.started_at,
        ended_at=row.ended_at,
        reason=row.reason,
        note=note_from_json(row.note),
        next_visit_on=row.next_visit_on,
        participants=tuple(
            Participant(p.user_id, ParticipantRole(p.role), p.display_name, p.joined_at, p.left_at)
            for p in row.participants
        ),
    )


def _loaded(stmt: Select[ConsultRow]) -> Select[ConsultRow]:
    return stmt.options(selectinload(ConsultRow.participants))


async def _task_ids(session: AsyncSession, consult_ids: list[int]) -> dict[int, int]:
    if not consult_ids:
        return {}
    rows = await session.execute(
        select(FollowUpTaskRow.consult_id, FollowUpTaskRow.id).where(
            FollowUpTaskRow.consult_id.in_(consult_ids)
        )
    )
    return {cid: tid for cid, tid in rows if cid is not None}


async def get_row(session: AsyncSession, consult_id: int) -> ConsultRow | None:
    """One consult row with participants, for reading or updating."""
    return await session.scalar(_loaded(select(ConsultRow).where(ConsultRow.id == consult_id)))


async def load(session: AsyncSession, consult_id: int) -> tuple[ConsultRow, Consult] | None:
    """One consult as a row to update and as the domain object rules look at (one read)."""
    row = await get_row(session, consult_id)
    if row is None:
        return None
    return row, consult_of(row, (await _task_ids(session, [row.id])).get(row.id))


async def get(session: AsyncSession, consult_id: int) -> Consult | None:
    """One consult."""
    row = await get_row(session, consult_id)
    if row is None:
        return None
    return consult_of(row, (await _task_ids(session, [row.id])).get(row.id))


async def listing(
    session: AsyncSession,
    *,
    resident_ids: list[int] | None = None,
    team_ids: frozenset[int] | None = None,
    participant_user_id: int | None = None,
    statuses: list[ConsultStatus] | None = None,
    scheduled_from: datetime | None = None,
    scheduled_to: datetime | None = None,
    limit: int = 100,
) -> list[Consult]:
    """Consults matching every given filter (those left as None do not filter), newest first."""
    stmt = select(ConsultRow)
    if resident_ids is not None:
        stmt = stmt.where(ConsultRow.resident_id.in_(resident_ids))
    if team_ids is not None:
        stmt = stmt.where(ConsultRow.team_id.in_(team_ids))
    if participant_user_id is not None:
        stmt = stmt.where(ConsultRow.participants.any(ConsultParticipantRow.user_id == participant_user_id))
    if statuses is not None:
        stmt = stmt.where(ConsultRow.status.in_([s.value for s in statuses]))
    if scheduled_from is not None:
        stmt = stmt.where(ConsultRow.scheduled_at >= scheduled_from)
    if scheduled_to is not None:
        stmt = stmt.where(ConsultRow.scheduled_at < scheduled_to)
    stmt = stmt.order_by(ConsultRow.scheduled_at.desc(), ConsultRow.id.desc()).limit(limit)
    rows = (await session.scalars(_loaded(stmt))).all()
    tasks = await _task_ids(session, [r.id for r in rows])
    return [consult_of(r, tasks.get(r.id)) for r in rows]


async def add(
    session: AsyncSession,
    *,
    kind: ConsultKind,
    mode: ConsultMode,
    resident_id: int,
    team_id: int | None,
    status: ConsultStatus,
    scheduled_at: datetime | None,
    condition_id: int | None,
    referral_id: int | None,
    reason: str,
    created_by: int,
    participants: list[Participant],
) -> ConsultRow:
    """Store a new consult with its first participants."""
    row = ConsultRow(
        kind=kind.value,
        mode=mode.value,
        resident_id=resident_id,
        team_id=team_id,
        status=status.value,
        scheduled_at=scheduled_at,
        condition_id=condition_id,
        referral_id=referral_id,
        reason=reason,
        created_by=created_by,
        note={},
        participants=[
            ConsultParticipantRow(user_id=p.user_id, role=p.role.value, display_name=p.display_name)
            for p in participants
        ],
    )
    session.add(row)
    await session.flush()
    return row


async def participant_user_ids(session: AsyncSession, consult_id: int) -> frozenset[int]:
    """Everyone ever added to the consult, whether still in the room or not."""
    rows = await session.scalars(
        select(ConsultParticipantRow.user_id).where(ConsultParticipantRow.consult_id == consult_id)
    )
    return frozenset(rows.all())


def add_participant(row: ConsultRow, participant: Participant) -> None:
    """Add a participant to a loaded consult unless already there."""
    if any(p.user_id == participant.user_id for p in row.participants):
        return
    row.participants.append(
        ConsultParticipantRow(
            user_id=participant.user_id,
            role=participant.role.value,
            display_name=participant.display_name,
            joined_at=participant.joined_at,
        )
    )


async def end(
    session: AsyncSession, row: ConsultRow, consult: Consult, now: datetime, today: date
) -> tuple[FollowUpTask, FollowUpPlan] | None:
    """End a consult (the caller checked who may). Everyone still in the room leaves; a follow-up
    consult completes its task and schedules the plan's next one, which is returned."""
    check_transition(consult.status, ConsultStatus.ENDED)
    row.status = ConsultStatus.ENDED.value
    row.ended_at = now
    if row.started_at is None:
        row.started_at = now
    for participant in row.participants:
        if participant.left_at is None and participant.joined_at is not None:
            participant.left_at = now
    scheduled = None
    task_row = await followups.task_for_consult(session, consult.id)
    if (
        task_row is not None
        and consult.kind is ConsultKind.FOLLOW_UP
        and task_row.status == TaskStatus.DUE.value
    ):
        task_row.status = TaskStatus.DONE.value
        task_row.completed_on = today
        plan = await followups.get_plan(session, task_row.plan_id)
        if plan is not None and plan.active:
            task = await followups.add_task(session, plan, next_due_date(plan, today, consult.next_visit_on))
            scheduled = (task, plan)
    await session.flush()
    return scheduled
