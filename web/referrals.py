"""Referrals (转诊) from the family-doctor team to a specialist or referral hospital."""

from __future__ import annotations

from sqlalchemy import select

from consult.access import require_practising, require_team_clinician
from consult.errors import AccessDenied, NotFound, RuleViolation
from consult.organization import OrganizationKind
from consult.referral import ReferralStatus, SharedResult, check_referral_transition
from consult.roles import Role
from storage import referrals
from storage.models import OrganizationRow, PractitionerRow
from web import schemas
from web.api import Api, RequestContext
from web.presenters import referral_out
from web.residents import find_resident

api = Api()


@api.operation(
    "POST",
    "/api/referrals",
    summary="Refer a resident to a specialist",
    tag="referrals",
    body=schemas.ReferralIn,
    response=schemas.ReferralOut,
    status=201,
    errors=(404,),
)
async def create_referral(ctx: RequestContext) -> schemas.ReferralOut:
    """The team refers a resident, sharing chosen conditions and recent results with the specialist."""
    body: schemas.ReferralIn = ctx.body
    resident, team_id = await find_resident(ctx, body.resident_id)
    require_team_clinician(ctx.me, team_id)
    assert team_id is not None
    org = await ctx.session.get(OrganizationRow, body.to_organization_id)
    if org is None or org.kind != OrganizationKind.REFERRAL_HOSPITAL.value:
        raise RuleViolation(
            f"organization {body.to_organization_id} is not a referral hospital",
            code="not_a_referral_hospital",
            field="to_organization_id",
        )
    if body.to_practitioner_id is not None:
        specialist = await ctx.session.scalar(
            select(PractitionerRow).where(
                PractitionerRow.id == body.to_practitioner_id, PractitionerRow.organization_id == org.id
            )
        )
        if specialist is None:
            raise RuleViolation(
                f"practitioner {body.to_practitioner_id} does not work at {org.name}",
                code="unknown_practitioner",
                field="to_practitioner_id",
            )
    unknown = set(body.shared_condition_ids) - {c.id for c in resident.conditions}
    if unknown:
        raise RuleViolation(
            f"conditions {sorted(unknown)} are not this resident's",
            code="unknown_condition",
            field="shared_condition_ids",
        )
    ctx.invalidate("actors")  # which residents a specialist may see
    referral = await referrals.add(
        ctx.session,
        resident_id=resident.id,
        from_team_id=team_id,
        to_organization_id=org.id,
        to_practitioner_id=body.to_practitioner_id,
        reason=body.reason,
        shared_results=[SharedResult(**r.model_dump()) for r in body.shared_results],
        shared_condition_ids=list(body.shared_condition_ids),
        created_by=ctx.me.user_id,
    )
    await ctx.audit(
        "create",
        "referral",
        referral.id,
        resident_id=resident.id,
        detail={"to_organization_id": org.id, "to_practitioner_id": body.to_practitioner_id},
    )
    return referral_out(referral)


@api.operation(
    "GET",
    "/api/referrals",
    summary="Referrals sent by my team or addressed to me",
    tag="referrals",
    response=schemas.ReferralListOut,
)
async def list_referrals(ctx: RequestContext) -> schemas.ReferralListOut:
    """A doctor or nurse sees their teams' referrals; a specialist those addressed to them or, unassigned,
    to their hospital."""
    actor = ctx.me
    if actor.role in (Role.DOCTOR, Role.NURSE):
        require_practising(actor)
        items = await referrals.listing(ctx.session, team_ids=actor.team_ids)
    elif actor.role is Role.SPECIALIST:
        practitioner = require_practising(actor)
        items = await referrals.listing(
            ctx.session, practitioner_id=practitioner.id, organization_id=practitioner.organization_id
        )
    else:
        raise AccessDenied(f"a {actor.role.value} has no referrals to list")
    return schemas.ReferralListOut(items=[referral_out(r) for r in items])


async def _visible(ctx: RequestContext) -> referrals.Referral:
    referral_id = ctx.path_int("referral_id")
    row = await referrals.get_row(ctx.session, referral_id)
    if row is None:
        raise NotFound(f"no referral {referral_id}")
    referral = referrals.referral_of(row)
    actor = ctx.me
    practitioner = require_practising(actor)
    if actor.role is Role.SPECIALIST:
        if referral.to_organization_id != practitioner.organization_id or referral.to_practitioner_id not in (
            None,
            practitioner.id,
        ):
            raise AccessDenied(f"referral {referral_id} is not addressed to you")
    elif referral.from_team_id not in actor.team_ids:
        raise AccessDenied(f"referral {referral_id} belongs to another team")
    return referral


@api.operation(
    "GET",
    "/api/referrals/{referral_id}",
    summary="One referral",
    tag="referrals",
    response=schemas.ReferralOut,
)
async def get_referral(ctx: RequestContext) -> schemas.ReferralOut:
    """A referral, to the referring team or the specialist it is addressed to."""
    referral = await _visible(ctx)
    await ctx.audit("read", "referral", referral.id, resident_id=referral.resident_id)
    return referral_out(referral)


@api.operation(
    "POST",
    "/api/referrals/{referral_id}/status",
    summary="Accept, decline, complete or cancel",
    tag="referrals",
    body=schemas.ReferralStatusIn,
    response=schemas.ReferralOut,
    errors=(404,),
)
async def set_referral_status(ctx: RequestContext) -> schemas.ReferralOut:
    """The specialist accepts, declines or completes (with an opinion, filed in the record); the team
    cancels."""
    body: schemas.ReferralStatusIn = ctx.body
    referral = await _visible(ctx)
    specialist_moves = {ReferralStatus.ACCEPTED, ReferralStatus.DECLINED, ReferralStatus.COMPLETED}
    if (ctx.me.role is Role.SPECIALIST) != (body.status in specialist_moves):
        raise AccessDenied(f"a {ctx.me.role.value} cannot set a referral {body.status.value}")
    check_referral_transition(referral.status, body.status)
    if body.status is ReferralStatus.COMPLETED and not (body.specialist_opinion or "").strip():
        raise RuleViolation(
            "completing a referral files the specialist's opinion: write it",
            code="opinion_required",
            field="specialist_opinion",
        )
    row = await referrals.get_row(ctx.session, referral.id)
    assert row is not None
    row.status = body.status.value
    ctx.invalidate("actors")  # an open referral lets the specialist see the resident; a closed one not
    if body.specialist_opinion is not None:
        row.specialist_opinion = body.specialist_opinion
    await ctx.session.flush()
    await ctx.audit(body.status.value, "referral", referral.id, resident_id=referral.resident_id)
    return referral_out(referrals.referral_of(row))
