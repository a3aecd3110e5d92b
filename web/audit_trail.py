"""The audit trail, for compliance officers and administrators."""

from __future__ import annotations

from sqlalchemy import func, select

from consult.errors import AccessDenied
from consult.roles import Role
from storage.models import AuditEventRow
from web import schemas
from web.api import Api, RequestContext

api = Api()


@api.operation(
    "GET",
    "/api/audit",
    summary="Query the audit trail",
    tag="audit",
    query=schemas.AuditQuery,
    response=schemas.AuditPageOut,
)
async def list_audit(ctx: RequestContext) -> schemas.AuditPageOut:
    """Who did what to which record, newest first. Reading the trail is itself audited."""
    if ctx.me.role not in (Role.COMPLIANCE, Role.ADMIN):
        raise AccessDenied("only compliance officers and administrators read the audit trail")
    query: schemas.AuditQuery = ctx.query
    where = []
    if query.resident_id is not None:
        where.append(AuditEventRow.resident_id == query.resident_id)
    if query.actor_username:
        where.append(AuditEventRow.actor_username == query.actor_username)
    if query.action:
        where.append(AuditEventRow.action == query.action)
    total = await ctx.session.scalar(select(func.count()).select_from(AuditEventRow).where(*where)) or 0
    rows = await ctx.session.scalars(
        select(AuditEventRow)
        .where(*where)
        .order_by(AuditEventRow.seq.desc())
        .offset((query.page - 1) * query.page_size)
        .limit(query.page_size)
    )
    items = [
        schemas.AuditEventOut(
            seq=r.seq,
            at=r.at,
            actor_username=r.actor_username,
            actor_role=r.actor_role,
            action=r.action,
            entity_type=r.entity_type,
            entity_id=r.entity_id,
            resident_id=r.resident_id,
            outcome=r.outcome,
            purpose=r.purpose,
            detail=r.detail,
            hash=r.hash,
        )
        for r in rows
    ]
    await ctx.audit("read", "audit", resident_id=query.resident_id, detail={"results": len(items)})
    return schemas.AuditPageOut(items=items, total=int(total))
