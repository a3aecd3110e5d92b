"""Actors the domain tests act as: one of each role, on team 10 of organization 1 unless told."""

from __future__ import annotations

from consult.access import Actor
from consult.practitioner import Practitioner, PractitionerKind
from consult.proxy import ProxyBinding, Relation
from consult.roles import ProxyScope, Role

ORG = 1
TEAM = 10
OTHER_TEAM = 11
RESIDENT = 100
OTHER_RESIDENT = 200


def practitioner(kind: PractitionerKind, *, verified: bool = True, years: int = 10) -> Practitioner:
    return Practitioner(
        id=5,
        name="张医生",
        kind=kind,
        organization_id=ORG,
        real_name_verified=verified,
        years_of_practice=years,
    )


def doctor(
    *, teams: frozenset[int] = frozenset({TEAM}), verified: bool = True, years: int = 10, user_id: int = 20
) -> Actor:
    return Actor(
        user_id=user_id,
        username="dr.zhang",
        role=Role.DOCTOR,
        display_name="张医生",
        organization_id=ORG,
        practitioner=practitioner(PractitionerKind.DOCTOR, verified=verified, years=years),
        team_ids=teams,
    )


def nurse(*, teams: frozenset[int] = frozenset({TEAM}), verified: bool = True) -> Actor:
    return Actor(
        user_id=21,
        username="nurse.li",
        role=Role.NURSE,
        display_name="李护士",
        organization_id=ORG,
        practitioner=practitioner(PractitionerKind.NURSE, verified=verified, years=0),
        team_ids=teams,
    )


def specialist(
    *, referred: frozenset[int] = frozenset({RESIDENT}), verified: bool = True, years: int = 15
) -> Actor:
    return Actor(
        user_id=30,
        username="dr.wang",
        role=Role.SPECIALIST,
        display_name="王主任",
        organization_id=2,
        practitioner=practitioner(PractitionerKind.SPECIALIST, verified=verified, years=years),
        referred_resident_ids=referred,
    )


def resident(resident_id: int | None = RESIDENT) -> Actor:
    return Actor(
        user_id=1, username="wang.xiuying", role=Role.RESIDENT, display_name="王秀英", resident_id=resident_id
    )


def proxy(*bindings: tuple[int, set[ProxyScope]]) -> Actor:
    return Actor(
        user_id=50,
        username="son",
        role=Role.PROXY,
        display_name="王强",
        proxy_bindings=tuple(
            ProxyBinding(proxy_user_id=50, resident_id=rid, relation=Relation.CHILD, scopes=frozenset(scopes))
            for rid, scopes in bindings
        ),
    )


def compliance() -> Actor:
    return Actor(user_id=60, username="qc", role=Role.COMPLIANCE, display_name="质控", organization_id=ORG)


def admin() -> Actor:
    return Actor(user_id=70, username="admin", role=Role.ADMIN, display_name="管理员", organization_id=ORG)
