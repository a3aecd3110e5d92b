"""Contracts (签约): signing a resident to a team, and the contract's life cycle."""

from __future__ import annotations

from consult.access import require_team_clinician
from consult.contract import (
    ContractStatus,
    check_can_sign,
    check_contract_transition,
    effective_status,
    one_year_from,
)
from consult.errors import AccessDenied, NotFound
from consult.roles import Role
from storage import contracts, people
from storage.models import CareTeamRow
from web import schemas
from web.api import Api, RequestContext
from web.presenters import contract_out
from web.residents import find_resident

api = Api()


@api.operation(
    "POST",
    "/api/contracts",
    summary="Sign a resident to a team for one year",
    tag="contracts",
    body=schemas.ContractIn,
    response=schemas.ContractOut,
    status=201,
    errors=(404, 409),
)
async def create_contract(ctx: RequestContext) -> schemas.ContractOut:
    """A doctor of the team signs the resident (or records a pending sign-up). One team at a time:
    a new cycle may start only when the current one ends, which is how renewal and switching work."""
    body: schemas.ContractIn = ctx.body
    actor = ctx.me
    if actor.role is not Role.DOCTOR:
        raise AccessDenied("contracts are signed by a doctor of the team")
    require_team_clinician(actor, body.team_id)
    team = await ctx.session.get(CareTeamRow, body.team_id)
    if team is None:
        raise NotFound(f"no team {body.team_id}", field="team_id")
    resident, _ = await find_resident(ctx, body.resident_id)
    existing = await contracts.for_resident(ctx.session, resident.id)
    check_can_sign(existing, team.id, body.start_date, ctx.today)
    contract = await contracts.add(
        ctx.session,
        resident_id=resident.id,
        team_id=team.id,
        package=body.package,
        start_date=body.start_date,
        end_date=one_year_from(body.start_date),
        status=ContractStatus.ACTIVE if body.activate else ContractStatus.PENDING,
        created_by=actor.user_id,
    )
    await ctx.audit(
        "create",
        "contract",
        contract.id,
        resident_id=resident.id,
        detail={"team_id": team.id, "status": contract.status.value},
    )
    return contract_out(contract, team.name, ctx.today)


@api.operation(
    "POST",
    "/api/contracts/{contract_id}/status",
    summary="Change a contract's status",
    tag="contracts",
    body=schemas.ContractStatusIn,
    response=schemas.ContractOut,
    errors=(404,),
)
async def set_contract_status(ctx: RequestContext) -> schemas.ContractOut:
    """Activate a pending contract, record a refusal, cancel, or mark the resident unable to sign
    (moved away, deceased, in prison: with the reason, for a supervisor's review)."""
    body: schemas.ContractStatusIn = ctx.body
    contract_id = ctx.path_int("contract_id")
    row = await contracts.get_row(ctx.session, contract_id)
    if row is None:
        raise NotFound(f"no contract {contract_id}")
    require_team_clinician(ctx.me, row.team_id)
    current = contracts.contract_of(row)
    check_contract_transition(current, body.status, ctx.today, body.unable_reason)
    before = effective_status(current, ctx.today)
    row.status = body.status.value
    row.unable_reason = body.unable_reason.value if body.unable_reason else None
    if body.note is not None:
        row.note = body.note
    await ctx.session.flush()
    await ctx.audit(
        "update",
        "contract",
        contract_id,
        resident_id=row.resident_id,
        detail={"from": before.value, "to": body.status.value},
    )
    teams = await people.teams_by_id(ctx.session, frozenset({row.team_id}))
    return contract_out(contracts.contract_of(row), teams[0].name if teams else "", ctx.today)
