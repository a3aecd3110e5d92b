"""Logging in, and who the caller is."""

from __future__ import annotations

import asyncio

from storage import people, residents
from storage.passwords import verify_password
from web import keys, schemas
from web.api import Api, RequestContext, audit_record, audit_separately
from web.errors import ApiError
from web.presenters import practitioner_out

api = Api()


@api.operation(
    "POST",
    "/api/auth/login",
    summary="Log in with user name and password",
    tag="auth",
    body=schemas.LoginIn,
    response=schemas.TokenOut,
    auth=False,
    errors=(401, 429),
)
async def login(ctx: RequestContext) -> schemas.TokenOut:
    """Exchange a user name and password for a bearer token.

    After repeated failures for one user name or one address, further attempts are refused with
    429 and a Retry-After header until the window has passed, even with the right password.
    """
    body: schemas.LoginIn = ctx.body
    app = ctx.app
    throttle = app[keys.THROTTLE]
    address = ctx.request.remote
    wait = await throttle.retry_after(body.username, address)
    if wait:
        app[keys.METRICS].logins.labels("throttled").inc()
        raise ApiError(
            429,
            f"too many failed logins; try again in {wait} seconds",
            code="login_throttled",
            headers={"Retry-After": str(wait)},
        )
    user = await people.user_by_username(ctx.session, body.username)
    # argon2 costs tens of milliseconds of CPU by design: keep it off the event loop.
    ok = await asyncio.to_thread(verify_password, user.password_hash if user else None, body.password)
    if not ok or user is None or not user.active:
        await throttle.failed(body.username, address)
        app[keys.METRICS].logins.labels("failed").inc()
        await audit_separately(
            app,
            audit_record(ctx.request, None, "login", "user", body.username, None, "failure", None, None),
            ctx.now,
        )
        raise ApiError(401, "wrong user name or password", code="invalid_credentials")
    await throttle.succeeded(body.username)
    app[keys.METRICS].logins.labels("success").inc()
    ctx.actor = await people.load_actor(ctx.session, user.id, ctx.today)
    await ctx.audit("login", "user", user.id)
    issuer = app[keys.TOKENS]
    token = issuer.issue(user.id, user.role, now=ctx.now.timestamp())
    return schemas.TokenOut(access_token=token, expires_in=issuer.ttl_s)


@api.operation(
    "GET",
    "/api/me",
    summary="The caller's account, teams and bound residents",
    tag="auth",
    response=schemas.MeOut,
)
async def me(ctx: RequestContext) -> schemas.MeOut:
    """Who the bearer is: role, practitioner details, teams, and for a proxy the residents they act for."""
    actor = ctx.me
    teams = await people.teams_by_id(ctx.session, actor.team_ids)
    names = await residents.names(ctx.session, {b.resident_id for b in actor.proxy_bindings})
    return schemas.MeOut(
        id=actor.user_id,
        username=actor.username,
        role=actor.role.value,
        display_name=actor.display_name,
        resident_id=actor.resident_id,
        practitioner=practitioner_out(actor.practitioner) if actor.practitioner else None,
        team_ids=sorted(actor.team_ids),
        teams=[schemas.TeamOut(id=t.id, name=t.name) for t in teams],
        proxy_for=[
            schemas.ProxyForOut(
                resident_id=b.resident_id,
                name=names.get(b.resident_id, ""),
                relation=b.relation.value,
                scopes=sorted(s.value for s in b.scopes),
            )
            for b in actor.proxy_bindings
        ],
        time_zone=ctx.app[keys.SETTINGS].timezone,
    )
