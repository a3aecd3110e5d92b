"""Residents: the listing a caller may see, and the resident record with everything linked to it."""

from __future__ import annotations

from datetime import timedelta

from consult.access import RecordAccess, require_record_access, resident_scope
from consult.consult import ConsultKind, ConsultStatus, Vitals
from consult.errors import AccessDenied, NotFound
from consult.referral import OPEN
from consult.resident import Resident
from storage import consults, contracts, followups, people, referrals, residents, standing_consents
from web import keys, schemas
from web.api import Api, RequestContext
from web.presenters import (
    condition_out,
    consult_summary,
    contract_out,
    plan_out,
    referral_out,
    resident_out,
    task_out,
)
from web.standing_consents import items_out

api = Api()


async def find_resident(ctx: RequestContext, resident_id: int) -> tuple[Resident, int | None]:
    """A resident named in a request body, and the team they are signed with today.

    Unknown ids are a 404 naming the `resident_id` field. (The record endpoint checks access before
    existence instead, so a stranger cannot tell the two apart.)
    """
    resident = await residents.get(ctx.session, resident_id)
    if resident is None:
        raise NotFound(f"no resident {resident_id}", field="resident_id")
    return resident, await residents.contracted_team(ctx.session, resident.id, ctx.today)


@api.operation(
    "GET",
    "/api/residents",
    summary="Residents the caller may see",
    tag="residents",
    query=schemas.ResidentQuery,
    response=schemas.ResidentPageOut,
)
async def list_residents(ctx: RequestContext) -> schemas.ResidentPageOut:
    """Paged, searchable by name (part), phone (prefix), exact ID number, and tag.

    A doctor or nurse sees the residents signed with their teams; a specialist those shared by an
    open referral; a resident themself; a proxy the residents bound to them; a compliance officer
    the residents of their organization.
    """
    query: schemas.ResidentQuery = ctx.query
    scope = resident_scope(ctx.me)
    page = await residents.search(
        ctx.session,
        scope,
        ctx.today,
        ctx.app[keys.FIELDS],
        q=query.q,
        tag=query.tag,
        page=query.page,
        page_size=query.page_size,
    )
    await ctx.audit(
        "search", "resident", detail={"q_given": bool(query.q), "tag": query.tag, "results": len(page.items)}
    )
    return schemas.ResidentPageOut(
        items=[
            schemas.ResidentSummaryOut(
                id=r.id,
                name=r.name,
                sex=r.sex.value,
                age=r.age_on(ctx.today),
                birth_date=r.birth_date,
                id_number_masked=r.id_number_masked,
                phone=r.phone,
                tags=list(r.tags),
                conditions=[c.name for c in r.conditions if c.active],
                contract_status=page.contract_status.get(r.id),
            )
            for r in page.items
        ],
        total=page.total,
        page=query.page,
        page_size=query.page_size,
    )


@api.operation(
    "GET",
    "/api/residents/{resident_id}",
    summary="A resident's record",
    tag="residents",
    response=schemas.RecordOut,
)
async def get_record(ctx: RequestContext) -> schemas.RecordOut:
    """Demographics, conditions, contract, follow-up plan and due tasks, consults, referrals, last vitals.

    Every read is audited. A specialist sees only what open referrals to them share.
    """
    resident_id = ctx.path_int("resident_id")
    session = ctx.session
    resident = await residents.get(session, resident_id)
    team_id = await residents.contracted_team(session, resident_id, ctx.today)
    access = require_record_access(ctx.me, resident_id, team_id)
    if resident is None:  # checked after access, so the two answers cannot be told apart by a stranger
        raise NotFound(f"no resident {resident_id}")
    all_referrals = await referrals.listing(session, resident_id=resident_id)
    if access is RecordAccess.SHARED:
        assert ctx.me.practitioner is not None
        mine = [
            r
            for r in all_referrals
            if r.status in OPEN
            and (r.to_practitioner_id in (None, ctx.me.practitioner.id))
            and r.to_organization_id == ctx.me.practitioner.organization_id
        ]
        shared_ids = {cid for r in mine for cid in r.shared_condition_ids}
        consult_rows = [
            c
            for c in await consults.listing(session, resident_ids=[resident_id])
            if c.kind is ConsultKind.REFERRAL and c.referral_id in {r.id for r in mine}
        ]
        await ctx.audit("read", "resident", resident_id, resident_id=resident_id, detail={"access": "shared"})
        return schemas.RecordOut(
            access=access.value,
            resident=resident_out(resident, ctx.today),
            conditions=[condition_out(c) for c in resident.conditions if c.id in shared_ids],
            contract=None,
            followup_plans=[],
            due_tasks=[],
            consults=[consult_summary(c, resident.name) for c in consult_rows],
            referrals=[referral_out(r) for r in mine],
            last_vitals=None,
        )
    contract_list = await contracts.for_resident(session, resident_id)
    contract = contract_list[0] if contract_list else None
    team_names = {
        t.id: t.name for t in await people.teams_by_id(session, frozenset(c.team_id for c in contract_list))
    }
    plans = await followups.plans_for_resident(session, resident_id)
    plans_by_id = {p.id: p for p in plans}
    due = await followups.due_tasks(
        session, until=ctx.today + timedelta(days=366), resident_ids=[resident_id]
    )
    consult_list = await consults.listing(session, resident_ids=[resident_id], limit=50)
    last_vitals = None
    for c in sorted(consult_list, key=lambda c: c.ended_at or c.created_at, reverse=True):
        if c.status is ConsultStatus.ENDED and c.note.vitals != Vitals():
            last_vitals = schemas.VitalsOut(**c.note.vitals.__dict__, taken_at=c.ended_at)
            break
    contract_id = await standing_consents.contract_in_force(session, resident_id, ctx.today)
    standing = await standing_consents.current(session, resident_id, contract_id, ctx.now)
    await ctx.audit("read", "resident", resident_id, resident_id=resident_id, detail={"access": "full"})
    return schemas.RecordOut(
        access=access.value,
        resident=resident_out(resident, ctx.today),
        conditions=[condition_out(c) for c in resident.conditions],
        contract=contract_out(contract, team_names.get(contract.team_id, ""), ctx.today)
        if contract
        else None,
        standing_consent=(await items_out(session, [standing]))[0] if standing else None,
        followup_plans=[plan_out(p) for p in plans],
        due_tasks=[task_out(t, plans_by_id.get(t.plan_id, p), ctx.today) for t, p in due],
        consults=[consult_summary(c, resident.name) for c in consult_list],
        referrals=[referral_out(r) for r in all_referrals],
        last_vitals=last_vitals,
    )


@api.operation(
    "GET",
    "/api/residents/{resident_id}/contracts",
    summary="A resident's contract cycles",
    tag="contracts",
    response=schemas.ContractListOut,
)
async def list_contracts(ctx: RequestContext) -> schemas.ContractListOut:
    """Every contract cycle of the resident, newest first, with today's status."""
    resident_id = ctx.path_int("resident_id")
    team_id = await residents.contracted_team(ctx.session, resident_id, ctx.today)
    access = require_record_access(ctx.me, resident_id, team_id)
    if access is RecordAccess.SHARED:
        raise AccessDenied("a specialist sees only what a referral shares, not contracts")
    items = await contracts.for_resident(ctx.session, resident_id)
    names = {t.id: t.name for t in await people.teams_by_id(ctx.session, frozenset(c.team_id for c in items))}
    await ctx.audit("read", "contract", resident_id=resident_id)
    return schemas.ContractListOut(
        items=[contract_out(c, names.get(c.team_id, ""), ctx.today) for c in items]
    )
