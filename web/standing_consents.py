"""Standing consent to recording follow-ups: the resident (or a family member with the consent
scope) gives or withdraws it on their contract; the care team and the resident's side read it.

Given in plain words (`consult.recording.STANDING_CONSENT_TEXT`, versioned): the page shows the text
of `GET …/standing-consent`, and the version it showed comes back with the answer. In a follow-up
consult the hub counts the resident as consenting without asking them (signaling/recording_events.py);
a change made here during a live consult is applied to its recording at once.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from consult.errors import AccessDenied, Conflict, NotFound
from consult.recording import (
    STANDING_CONSENT_TEXT,
    STANDING_TEXT_VERSION,
    StandingConsent,
    check_can_give,
    may_give_standing_consent,
    may_read_standing_consent,
)
from storage import people, recordings, residents, standing_consents
from web import keys, schemas
from web.api import Api, RequestContext

api = Api()
log = logging.getLogger(__name__)


async def items_out(
    session: AsyncSession, consents: list[StandingConsent]
) -> list[schemas.StandingConsentItemOut]:
    """Standing consents as shown, naming who gave and who withdrew each."""
    users = await people.users_by_id(
        session,
        {c.given_by_user_id for c in consents}
        | {c.withdrawn_by_user_id for c in consents if c.withdrawn_by_user_id is not None},
    )
    out = []
    for c in consents:
        giver = users.get(c.given_by_user_id)
        withdrawer = users.get(c.withdrawn_by_user_id) if c.withdrawn_by_user_id is not None else None
        out.append(
            schemas.StandingConsentItemOut(
                id=c.id,
                contract_id=c.contract_id,
                given_at=c.given_at,
                given_by=c.given_by_user_id,
                given_by_name=giver.display_name if giver else "",
                given_by_role=giver.role if giver else "",
                text_version=c.text_version,
                withdrawn_at=c.withdrawn_at,
                withdrawn_by=c.withdrawn_by_user_id,
                withdrawn_by_name=withdrawer.display_name if withdrawer else None,
            )
        )
    return out


async def _state(ctx: RequestContext, resident_id: int) -> schemas.StandingConsentOut:
    session = ctx.session
    contract_id = await standing_consents.contract_in_force(session, resident_id, ctx.today)
    current = await standing_consents.current(session, resident_id, contract_id, ctx.now)
    history = await items_out(session, await standing_consents.history(session, resident_id))
    try:
        may_give_standing_consent(ctx.me, resident_id)
        may_change = True
    except AccessDenied:
        may_change = False
    return schemas.StandingConsentOut(
        resident_id=resident_id,
        in_force=current is not None,
        current=next((h for h in history if current is not None and h.id == current.id), None),
        contract_id=contract_id,
        may_change=may_change,
        text_version=STANDING_TEXT_VERSION,
        text=dict(STANDING_CONSENT_TEXT[STANDING_TEXT_VERSION]),
        history=history,
    )


async def _locked_current(
    ctx: RequestContext, resident_id: int
) -> tuple[int | None, int | None, StandingConsent | None]:
    """For a change by the resident's side: on whose behalf (None: the resident themselves), the
    contract in force (locked until commit, so two changes at once take turns) and the consent in
    force on it."""
    on_behalf = may_give_standing_consent(ctx.me, resident_id)
    if await residents.get(ctx.session, resident_id) is None:
        raise NotFound(f"no resident {resident_id}")
    contract_id = await standing_consents.contract_in_force(ctx.session, resident_id, ctx.today)
    if contract_id is not None:
        await standing_consents.lock_contract(ctx.session, contract_id)
    current = await standing_consents.current(ctx.session, resident_id, contract_id, ctx.now)
    return on_behalf, contract_id, current


async def _apply_live(ctx: RequestContext, resident_id: int) -> None:
    """Once committed, let the resident's live recordings follow the change (pause on a withdrawal)."""
    consult_ids = await recordings.active_consult_ids(ctx.session, resident_id)
    hub = ctx.app[keys.HUB]

    async def apply() -> None:
        for consult_id in consult_ids:
            try:
                await hub.consult.evaluate_recording(consult_id)
            except Exception:  # committed already: the gate's next evaluation applies it
                log.exception(
                    "consult %s: the standing consent change did not reach its recording", consult_id
                )

    if consult_ids:
        ctx.after_commit.append(apply)


@api.operation(
    "GET",
    "/api/residents/{resident_id}/standing-consent",
    summary="Whether the resident's standing consent to recording follow-ups is in force, and its history",
    tag="consent",
    response=schemas.StandingConsentOut,
)
async def get_standing_consent(ctx: RequestContext) -> schemas.StandingConsentOut:
    """The resident, a family member with the consent or view-records scope, and the resident's care
    team. The text to show when giving it comes with it. Every read is audited."""
    resident_id = ctx.path_int("resident_id")
    team_id = await residents.contracted_team(ctx.session, resident_id, ctx.today)
    if not may_read_standing_consent(ctx.me, resident_id, team_id):
        raise AccessDenied(f"you may not see the consents of resident {resident_id}")
    if await residents.get(ctx.session, resident_id) is None:  # after access: strangers learn nothing
        raise NotFound(f"no resident {resident_id}")
    state = await _state(ctx, resident_id)
    await ctx.audit("read", "standing_consent", resident_id=resident_id)
    return state


@api.operation(
    "POST",
    "/api/residents/{resident_id}/standing-consent",
    summary="Give standing consent to recording follow-ups, on the resident's contract",
    tag="consent",
    body=schemas.StandingConsentIn,
    response=schemas.StandingConsentOut,
    status=201,
    errors=(404, 409),
)
async def give_standing_consent(ctx: RequestContext) -> schemas.StandingConsentOut:
    """The resident, or a family member whose binding has the consent scope (not the care team:
    consent is the resident's). Needs a contract in force and the version of the text shown; one
    at a time (409 `standing_consent_exists`)."""
    body: schemas.StandingConsentIn = ctx.body
    resident_id = ctx.path_int("resident_id")
    on_behalf, contract_id, current = await _locked_current(ctx, resident_id)
    check_can_give(current, contract_id, body.text_version)
    assert contract_id is not None  # check_can_give refused otherwise
    given = await standing_consents.give(
        ctx.session,
        resident_id=resident_id,
        contract_id=contract_id,
        by_user_id=ctx.me.user_id,
        text_version=body.text_version,
        now=ctx.now,
    )
    await ctx.audit(
        "give",
        "standing_consent",
        given.id,
        resident_id=resident_id,
        detail={"contract_id": contract_id, "text_version": given.text_version, "on_behalf_of": on_behalf},
    )
    await _apply_live(ctx, resident_id)
    return await _state(ctx, resident_id)


@api.operation(
    "POST",
    "/api/residents/{resident_id}/standing-consent/withdraw",
    summary="Withdraw the standing consent to recording follow-ups (kept in the history)",
    tag="consent",
    response=schemas.StandingConsentOut,
    errors=(404, 409),
)
async def withdraw_standing_consent(ctx: RequestContext) -> schemas.StandingConsentOut:
    """The resident, or a family member with the consent scope. From now on every follow-up asks
    again; a follow-up being recorded right now pauses until the resident answers in the call."""
    resident_id = ctx.path_int("resident_id")
    on_behalf, _, current = await _locked_current(ctx, resident_id)
    if current is None:
        raise Conflict("no standing consent is in force to withdraw", code="no_standing_consent")
    withdrawn = await standing_consents.withdraw(
        ctx.session, current.id, by_user_id=ctx.me.user_id, now=ctx.now
    )
    assert withdrawn is not None  # in force a moment ago, under the contract's lock
    await ctx.audit(
        "withdraw",
        "standing_consent",
        current.id,
        resident_id=resident_id,
        detail={"contract_id": current.contract_id, "on_behalf_of": on_behalf},
    )
    await _apply_live(ctx, resident_id)
    return await _state(ctx, resident_id)
