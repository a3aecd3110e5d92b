"""Turn domain objects into response models (one place, so every endpoint shows a thing the same way)."""

from __future__ import annotations

from datetime import date

from consult.consult import Consult
from consult.contract import Contract, effective_status
from consult.followup import FollowUpPlan, FollowUpTask
from consult.practitioner import Practitioner
from consult.referral import Referral
from consult.resident import Condition, Resident
from storage.consults import note_to_json
from web import schemas


def resident_out(resident: Resident, today: date) -> schemas.ResidentOut:
    """A resident's demographics (the ID number only ever masked)."""
    return schemas.ResidentOut(
        id=resident.id,
        name=resident.name,
        sex=resident.sex.value,
        birth_date=resident.birth_date,
        age=resident.age_on(today),
        id_number_masked=resident.id_number_masked,
        phone=resident.phone,
        address=resident.address,
        tags=list(resident.tags),
        allergies=list(resident.allergies),
    )


def condition_out(condition: Condition) -> schemas.ConditionOut:
    """A condition."""
    return schemas.ConditionOut(
        id=condition.id,
        name=condition.name,
        code=condition.code,
        diagnosed_offline=condition.diagnosed_offline,
        diagnosed_on=condition.diagnosed_on,
        diagnosed_at=condition.diagnosed_at,
        active=condition.active,
    )


def contract_out(contract: Contract, team_name: str, today: date) -> schemas.ContractOut:
    """A contract with the status as of today."""
    return schemas.ContractOut(
        id=contract.id,
        resident_id=contract.resident_id,
        team_id=contract.team_id,
        team_name=team_name,
        package=contract.package,
        start_date=contract.start_date,
        end_date=contract.end_date,
        status=effective_status(contract, today),
        unable_reason=contract.unable_reason,
        note=contract.note,
    )


def plan_out(plan: FollowUpPlan) -> schemas.PlanOut:
    """A follow-up plan."""
    return schemas.PlanOut(
        id=plan.id,
        resident_id=plan.resident_id,
        title=plan.title,
        interval_days=plan.interval_days,
        condition_id=plan.condition_id,
        start_date=plan.start_date,
        active=plan.active,
    )


def task_out(task: FollowUpTask, plan: FollowUpPlan, today: date) -> schemas.TaskOut:
    """A follow-up task, titled by its plan."""
    return schemas.TaskOut(
        id=task.id,
        plan_id=task.plan_id,
        resident_id=task.resident_id,
        title=plan.title,
        due_date=task.due_date,
        status=task.status.value,
        overdue=task.is_overdue(today),
        consult_id=task.consult_id,
        completed_on=task.completed_on,
    )


def consult_summary(consult: Consult, resident_name: str) -> schemas.ConsultSummaryOut:
    """A consult in a list."""
    return schemas.ConsultSummaryOut(
        id=consult.id,
        kind=consult.kind,
        mode=consult.mode,
        status=consult.status,
        resident_id=consult.resident_id,
        resident_name=resident_name,
        scheduled_at=consult.scheduled_at,
        started_at=consult.started_at,
        ended_at=consult.ended_at,
        reason=consult.reason,
    )


def consult_out(
    consult: Consult, resident_name: str, *, with_note: bool, next_task: schemas.TaskOut | None = None
) -> schemas.ConsultOut:
    """A consult in full; the note only when the caller may read it."""
    note = None
    if with_note:
        data = note_to_json(consult.note)
        note = schemas.NoteOut(
            subjective=data["subjective"],
            objective=data["objective"],
            vitals=schemas.VitalsOut(**data["vitals"]),
            assessment=data["assessment"],
            plan=data["plan"],
        )
    return schemas.ConsultOut(
        id=consult.id,
        kind=consult.kind,
        mode=consult.mode,
        status=consult.status,
        resident_id=consult.resident_id,
        resident_name=resident_name,
        team_id=consult.team_id,
        condition_id=consult.condition_id,
        followup_task_id=consult.followup_task_id,
        referral_id=consult.referral_id,
        scheduled_at=consult.scheduled_at,
        started_at=consult.started_at,
        ended_at=consult.ended_at,
        duration_seconds=consult.duration_seconds,
        reason=consult.reason,
        participants=[
            schemas.ParticipantOut(
                user_id=p.user_id,
                role=p.role.value,
                display_name=p.display_name,
                joined_at=p.joined_at,
                left_at=p.left_at,
            )
            for p in consult.participants
        ],
        note=note,
        next_visit_on=consult.next_visit_on,
        next_task=next_task,
    )


def referral_out(referral: Referral) -> schemas.ReferralOut:
    """A referral with what it shares."""
    return schemas.ReferralOut(
        id=referral.id,
        resident_id=referral.resident_id,
        from_team_id=referral.from_team_id,
        to_organization_id=referral.to_organization_id,
        to_practitioner_id=referral.to_practitioner_id,
        reason=referral.reason,
        status=referral.status,
        created_at=referral.created_at,
        shared_results=[schemas.SharedResultIO(**r.__dict__) for r in referral.shared_results],
        shared_condition_ids=list(referral.shared_condition_ids),
        specialist_opinion=referral.specialist_opinion,
    )


def practitioner_out(practitioner: Practitioner) -> schemas.PractitionerOut:
    """A practitioner."""
    return schemas.PractitionerOut(
        id=practitioner.id,
        name=practitioner.name,
        kind=practitioner.kind.value,
        organization_id=practitioner.organization_id,
        real_name_verified=practitioner.real_name_verified,
        years_of_practice=practitioner.years_of_practice,
        department=practitioner.department,
    )
