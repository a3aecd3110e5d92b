"""Residents, their tags and conditions, proxy bindings, and the listing filtered by what a caller may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from consult.access import ResidentScope
from consult.contract import BINDING, ContractStatus
from consult.proxy import Relation
from consult.resident import Condition, Resident, Sex, mask_id_number, normalize_id_number
from consult.roles import ProxyScope
from storage.crypto import FieldProtector
from storage.models import (
    CareTeamRow,
    ConditionRow,
    ContractRow,
    ProxyBindingRow,
    ResidentRow,
    ResidentTagRow,
)


def condition_of(row: ConditionRow) -> Condition:
    """The domain view of a condition row."""
    return Condition(
        id=row.id,
        resident_id=row.resident_id,
        name=row.name,
        code=row.code,
        diagnosed_offline=row.diagnosed_offline,
        diagnosed_on=row.diagnosed_on,
        diagnosed_at=row.diagnosed_at,
        active=row.active,
    )


def resident_of(row: ResidentRow) -> Resident:
    """The domain view of a resident row loaded with its tags and conditions."""
    return Resident(
        id=row.id,
        name=row.name,
        sex=Sex(row.sex),
        birth_date=row.birth_date,
        id_number_masked=row.id_number_masked,
        phone=row.phone,
        address=row.address,
        tags=tuple(t.tag for t in row.tags),
        allergies=tuple(row.allergies),
        conditions=tuple(condition_of(c) for c in row.conditions),
    )


def _with_children(stmt: Select[ResidentRow]) -> Select[ResidentRow]:
    return stmt.options(selectinload(ResidentRow.tags), selectinload(ResidentRow.conditions))


async def get(session: AsyncSession, resident_id: int) -> Resident | None:
    """One resident with tags and conditions."""
    row = await session.scalar(_with_children(select(ResidentRow).where(ResidentRow.id == resident_id)))
    return None if row is None else resident_of(row)


async def names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    """Resident names by id."""
    if not ids:
        return {}
    rows = await session.execute(select(ResidentRow.id, ResidentRow.name).where(ResidentRow.id.in_(ids)))
    return {rid: name for rid, name in rows}


def _binding_contract_clause(today: date) -> list[ColumnElement[bool]]:
    return [
        ContractRow.status.in_([s.value for s in BINDING]),
        ContractRow.start_date <= today,
        ContractRow.end_date > today,
    ]


async def contracted_team(session: AsyncSession, resident_id: int, today: date) -> int | None:
    """The team the resident is signed with today, else the team signing them up (pending), else None."""
    bound = await session.scalar(
        select(ContractRow.team_id)
        .where(ContractRow.resident_id == resident_id, *_binding_contract_clause(today))
        .order_by(ContractRow.start_date.desc())
        .limit(1)
    )
    if bound is not None:
        return bound
    return await session.scalar(
        select(ContractRow.team_id)
        .where(ContractRow.resident_id == resident_id, ContractRow.status == ContractStatus.PENDING.value)
        .order_by(ContractRow.id.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class ResidentPage:
    """One page of a listing."""

    items: list[Resident]
    total: int
    contract_status: dict[int, str]


async def search(
    session: AsyncSession,
    scope: ResidentScope,
    today: date,
    protector: FieldProtector,
    *,
    q: str | None = None,
    tag: str | None = None,
    page: int = 1,
    page_size: int = 20,
) -> ResidentPage:
    """Residents within `scope`, matching `q` (part of the name, phone prefix, exact tag or exact ID
    number) and `tag`, ordered by name."""
    if scope.is_empty:
        return ResidentPage([], 0, {})
    visible: list[ColumnElement[bool]] = []
    if scope.team_ids:
        # The team sees the residents signed with it, and those it is signing up (pending).
        visible.append(
            exists().where(
                ContractRow.resident_id == ResidentRow.id,
                ContractRow.team_id.in_(scope.team_ids),
                or_(
                    and_(*_binding_contract_clause(today)), ContractRow.status == ContractStatus.PENDING.value
                ),
            )
        )
    if scope.resident_ids:
        visible.append(ResidentRow.id.in_(scope.resident_ids))
    if scope.all_in_organization is not None:
        visible.append(
            exists().where(
                ContractRow.resident_id == ResidentRow.id,
                ContractRow.team_id == CareTeamRow.id,
                CareTeamRow.organization_id == scope.all_in_organization,
            )
        )
    where: list[ColumnElement[bool]] = [or_(*visible)]
    if q:
        q = q.strip()
        matches: list[ColumnElement[bool]] = [
            ResidentRow.name.contains(q, autoescape=True),
            ResidentRow.phone.startswith(q, autoescape=True),
            exists().where(ResidentTagRow.resident_id == ResidentRow.id, ResidentTagRow.tag == q),
        ]
        try:
            id_number = normalize_id_number(q)
        except ValueError:
            id_number = None  # not an ID number: name, phone and tag only
        if id_number is not None:
            matches.append(ResidentRow.id_number_index == protector.index(id_number))
        where.append(or_(*matches))
    if tag:
        where.append(
            exists().where(ResidentTagRow.resident_id == ResidentRow.id, ResidentTagRow.tag == tag.strip())
        )
    total = await session.scalar(select(func.count()).select_from(ResidentRow).where(*where)) or 0
    rows = (
        await session.scalars(
            _with_children(select(ResidentRow).where(*where))
            .order_by(ResidentRow.name, ResidentRow.id)
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
    ).all()
    ids = [r.id for r in rows]
    statuses: dict[int, str] = {}
    if ids:
        contract_rows = await session.execute(
            select(ContractRow.resident_id, ContractRow.status, ContractRow.end_date)
            .where(ContractRow.resident_id.in_(ids))
            .order_by(ContractRow.start_date)
        )
        for rid, status, end in contract_rows:
            statuses[rid] = "expired" if status in BINDING and end <= today else status
    return ResidentPage([resident_of(r) for r in rows], int(total), statuses)


async def add(
    session: AsyncSession,
    protector: FieldProtector,
    *,
    name: str,
    sex: Sex,
    birth_date: date,
    id_number: str,
    phone: str | None = None,
    address: str | None = None,
    tags: tuple[str, ...] = (),
    allergies: tuple[str, ...] = (),
) -> ResidentRow:
    """Register a resident; the ID number is validated, sealed and indexed, never stored in clear."""
    canonical = normalize_id_number(id_number)
    row = ResidentRow(
        name=name,
        sex=sex.value,
        birth_date=birth_date,
        id_number_sealed=b"",
        id_number_index=protector.index(canonical),
        id_number_masked=mask_id_number(canonical),
        phone=phone,
        address=address,
        allergies=list(allergies),
        tags=[ResidentTagRow(tag=t) for t in tags],
        conditions=[],
    )
    session.add(row)
    await session.flush()
    row.id_number_sealed = protector.seal(canonical, f"resident:{row.id}")
    await session.flush()
    return row


async def add_condition(
    session: AsyncSession,
    resident_id: int,
    *,
    name: str,
    code: str | None,
    diagnosed_offline: bool,
    diagnosed_on: date | None,
    diagnosed_at: str | None = None,
) -> ConditionRow:
    """Record a diagnosed condition."""
    row = ConditionRow(
        resident_id=resident_id,
        name=name,
        code=code,
        diagnosed_offline=diagnosed_offline,
        diagnosed_on=diagnosed_on,
        diagnosed_at=diagnosed_at,
    )
    session.add(row)
    await session.flush()
    return row


async def bind_proxy(
    session: AsyncSession,
    proxy_user_id: int,
    resident_id: int,
    relation: Relation,
    scopes: frozenset[ProxyScope],
    proof: str | None = None,
) -> ProxyBindingRow:
    """Bind a proxy user to a resident with explicit scopes."""
    row = ProxyBindingRow(
        proxy_user_id=proxy_user_id,
        resident_id=resident_id,
        relation=relation.value,
        scopes=sorted(s.value for s in scopes),
        proof=proof,
    )
    session.add(row)
    await session.flush()
    return row
