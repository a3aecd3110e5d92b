"""Who may see or do what: pure decisions over an `Actor` and the facts of a record.

The web and signaling layers build an `Actor` for the caller once per request (from storage), then
ask these functions. Every refusal is an `AccessDenied` naming the rule.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from consult.consult import Consult, ConsultKind, ParticipantRole
from consult.errors import AccessDenied
from consult.practitioner import Practitioner, require_may_practise
from consult.proxy import ProxyBinding
from consult.roles import ProxyScope, Role


@dataclass(frozen=True)
class Actor:
    """The caller, with the facts every access decision needs."""

    user_id: int
    username: str
    role: Role
    display_name: str
    organization_id: int | None = None
    practitioner: Practitioner | None = None
    #: Teams the practitioner is on today.
    team_ids: frozenset[int] = frozenset()
    #: The resident this account belongs to (role resident).
    resident_id: int | None = None
    #: Residents this proxy is bound to, with scopes.
    proxy_bindings: tuple[ProxyBinding, ...] = ()
    #: Residents shared with this specialist through an open referral.
    referred_resident_ids: frozenset[int] = field(default_factory=frozenset)

    def binding_for(self, resident_id: int) -> ProxyBinding | None:
        """The proxy binding for `resident_id`, if any."""
        for binding in self.proxy_bindings:
            if binding.resident_id == resident_id:
                return binding
        return None


class RecordAccess(enum.StrEnum):
    """How much of a resident's record the caller may see."""

    FULL = "full"  # the team, the resident, a proxy with view_records
    SHARED = "shared"  # a specialist: demographics and what the referral shares
    NONE = "none"


@dataclass(frozen=True)
class ResidentScope:
    """Which residents a listing may return; the repository turns it into a filter."""

    all_in_organization: int | None = None
    team_ids: frozenset[int] = frozenset()
    resident_ids: frozenset[int] = frozenset()

    @property
    def is_empty(self) -> bool:
        """True when the caller may list nobody."""
        return self.all_in_organization is None and not self.team_ids and not self.resident_ids


def require_practising(actor: Actor) -> Practitioner:
    """The caller must be a verified practitioner allowed to act online."""
    if not actor.role.is_practitioner:
        raise AccessDenied(f"only practitioners may do this, not a {actor.role.value}")
    return require_may_practise(actor.practitioner)


def may_practise(actor: Actor) -> bool:
    """Whether `require_practising` would let the caller act."""
    try:
        require_practising(actor)
    except AccessDenied:
        return False
    return True


def resident_scope(actor: Actor) -> ResidentScope:
    """Which residents `actor` may find in a listing."""
    match actor.role:
        case Role.DOCTOR | Role.NURSE:
            require_practising(actor)
            return ResidentScope(team_ids=actor.team_ids)
        case Role.SPECIALIST:
            require_practising(actor)
            return ResidentScope(resident_ids=actor.referred_resident_ids)
        case Role.RESIDENT:
            ids = frozenset({actor.resident_id}) if actor.resident_id is not None else frozenset()
            return ResidentScope(resident_ids=ids)
        case Role.PROXY:
            return ResidentScope(resident_ids=frozenset(b.resident_id for b in actor.proxy_bindings))
        case Role.COMPLIANCE:
            return ResidentScope(all_in_organization=actor.organization_id)
        case _:
            return ResidentScope()


def record_access(actor: Actor, resident_id: int, resident_team_id: int | None) -> RecordAccess:
    """How much of resident `resident_id`'s record `actor` may see.

    `resident_team_id` is the team bound to the resident by contract today, if any.
    """
    match actor.role:
        case Role.DOCTOR | Role.NURSE:
            require_practising(actor)
            if resident_team_id is not None and resident_team_id in actor.team_ids:
                return RecordAccess.FULL
        case Role.SPECIALIST:
            require_practising(actor)
            if resident_id in actor.referred_resident_ids:
                return RecordAccess.SHARED
        case Role.RESIDENT:
            if actor.resident_id == resident_id:
                return RecordAccess.FULL
        case Role.PROXY:
            binding = actor.binding_for(resident_id)
            if binding is not None and binding.allows(ProxyScope.VIEW_RECORDS):
                return RecordAccess.FULL
    return RecordAccess.NONE


def require_record_access(actor: Actor, resident_id: int, resident_team_id: int | None) -> RecordAccess:
    """Like `record_access`, but refuse when the answer is none."""
    access = record_access(actor, resident_id, resident_team_id)
    if access is RecordAccess.NONE:
        raise AccessDenied(f"you may not see the record of resident {resident_id}")
    return access


def require_team_clinician(actor: Actor, resident_team_id: int | None) -> Practitioner:
    """The caller must be a practising doctor or nurse of the resident's contracted team."""
    if actor.role not in (Role.DOCTOR, Role.NURSE):
        raise AccessDenied(f"only the resident's family-doctor team may do this, not a {actor.role.value}")
    practitioner = require_practising(actor)
    if resident_team_id is None or resident_team_id not in actor.team_ids:
        raise AccessDenied("the resident is not signed with your team", code="not_your_resident")
    return practitioner


def participant_role_for(actor: Actor) -> ParticipantRole:
    """The role `actor` takes in a consult."""
    try:
        return ParticipantRole(actor.role.value)
    except ValueError as err:
        raise AccessDenied(f"a {actor.role.value} does not take part in consults") from err


def require_may_request_consult(
    actor: Actor, resident_id: int, resident_team_id: int | None, kind: ConsultKind
) -> None:
    """Who may open a consult for a resident.

    The team's clinicians may schedule any kind; a resident (or a proxy with the consult scope)
    may ask for advice or a follow-up for themselves; referral consults are opened by the team.
    """
    if actor.role in (Role.DOCTOR, Role.NURSE):
        require_team_clinician(actor, resident_team_id)
        return
    if kind is ConsultKind.REFERRAL:
        raise AccessDenied("referral consults are opened by the family-doctor team")
    if actor.role is Role.RESIDENT and actor.resident_id == resident_id:
        return
    if actor.role is Role.PROXY:
        binding = actor.binding_for(resident_id)
        if binding is not None and binding.allows(ProxyScope.CONSULT):
            return
        raise AccessDenied("your binding to this resident does not include consults", code="scope_missing")
    raise AccessDenied(f"you may not open a consult for resident {resident_id}")


def is_participant(actor: Actor, consult: Consult) -> bool:
    """Whether `actor` is listed among the consult's participants."""
    return any(p.user_id == actor.user_id for p in consult.participants)


def may_view_consult(actor: Actor, consult: Consult) -> bool:
    """Whether `actor` may see that the consult exists and its metadata."""
    if actor.role is Role.COMPLIANCE:
        return True
    if actor.role.is_practitioner and not may_practise(actor):
        return False
    if is_participant(actor, consult):
        return True
    match actor.role:
        case Role.DOCTOR | Role.NURSE:
            return consult.team_id is not None and consult.team_id in actor.team_ids
        case Role.RESIDENT:
            return actor.resident_id == consult.resident_id
        case Role.PROXY:
            binding = actor.binding_for(consult.resident_id)
            return binding is not None and (
                binding.allows(ProxyScope.CONSULT) or binding.allows(ProxyScope.VIEW_RECORDS)
            )
        case Role.SPECIALIST:
            return consult.resident_id in actor.referred_resident_ids and consult.kind is ConsultKind.REFERRAL
    return False


def may_view_note(actor: Actor, consult: Consult, *, reviewing: bool) -> bool:
    """Whether `actor` may read the clinical note; compliance only while reviewing, with a reason."""
    if actor.role is Role.COMPLIANCE:
        return reviewing
    if actor.role is Role.PROXY:
        binding = actor.binding_for(consult.resident_id)
        return binding is not None and binding.allows(ProxyScope.VIEW_RECORDS)
    return may_view_consult(actor, consult)


def require_may_write_note(actor: Actor, consult: Consult) -> Practitioner:
    """The team's clinicians, or a specialist taking part in a referral consult, write the note."""
    practitioner = require_practising(actor)
    if actor.role is Role.SPECIALIST:
        if consult.kind is ConsultKind.REFERRAL and (
            is_participant(actor, consult) or consult.resident_id in actor.referred_resident_ids
        ):
            return practitioner
        raise AccessDenied("a specialist writes only in referral consults shared with them")
    if consult.team_id is None or consult.team_id not in actor.team_ids:
        raise AccessDenied("this consult belongs to another team", code="not_your_resident")
    return practitioner
