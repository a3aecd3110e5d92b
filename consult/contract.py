"""Sign-up contracts (签约) between a resident and a family-doctor team, and their life cycle."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from consult.errors import Conflict, RuleViolation

#: A contract runs one year; the renewal reminder starts this many days before its end.
RENEWAL_WINDOW = timedelta(days=30)


class ServicePackage(enum.StrEnum):
    """基础包 (basic) or 个性化包 (personalised)."""

    BASIC = "basic"
    PERSONALISED = "personalised"


class ContractStatus(enum.StrEnum):
    """Stored status; `effective_status` also derives due-for-renewal and expired from the dates."""

    PENDING = "pending"
    ACTIVE = "active"
    DUE_FOR_RENEWAL = "due_for_renewal"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    REFUSED = "refused"
    UNABLE_TO_SIGN = "unable_to_sign"


class UnableReason(enum.StrEnum):
    """Why a resident cannot be signed; a supervisor reviews each."""

    MOVED_AWAY = "moved_away"
    DECEASED = "deceased"
    IN_PRISON = "in_prison"
    OTHER = "other"


#: The statuses in which the contract binds the resident to the team.
BINDING = frozenset({ContractStatus.ACTIVE, ContractStatus.DUE_FOR_RENEWAL})


@dataclass(frozen=True)
class Contract:
    """One contract cycle (FHIR Contract)."""

    id: int
    resident_id: int
    team_id: int
    package: ServicePackage
    start_date: date
    end_date: date
    status: ContractStatus
    unable_reason: UnableReason | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        if self.end_date <= self.start_date:
            raise ValueError(f"end_date {self.end_date} must be after start_date {self.start_date}")
        if self.status is ContractStatus.UNABLE_TO_SIGN and self.unable_reason is None:
            raise ValueError("a contract that could not be signed needs an unable_reason")


def one_year_from(start: date) -> date:
    """The end date of a one-year cycle starting on `start` (29 February maps to 28 February)."""
    try:
        return start.replace(year=start.year + 1)
    except ValueError:
        return start.replace(year=start.year + 1, day=28)


def effective_status(contract: Contract, today: date) -> ContractStatus:
    """The status a person should see today: active contracts turn due, then expired, by date."""
    if contract.status not in BINDING:
        return contract.status
    if today >= contract.end_date:
        return ContractStatus.EXPIRED
    if today >= contract.end_date - RENEWAL_WINDOW:
        return ContractStatus.DUE_FOR_RENEWAL
    return ContractStatus.ACTIVE


def binding_contract(contracts: Iterable[Contract], today: date) -> Contract | None:
    """The contract binding the resident to a team today, if any (there is at most one)."""
    for contract in contracts:
        if effective_status(contract, today) in BINDING and contract.start_date <= today:
            return contract
    return None


def check_can_sign(existing: Iterable[Contract], team_id: int, start: date, today: date) -> None:
    """Refuse a new contract that would overlap one binding the resident to a team.

    A renewal (or a switch of team) is allowed only for a cycle starting on or after the
    current contract's end date: one active team at a time.
    """
    if start < today:
        raise RuleViolation("a contract cannot start in the past", field="start_date")
    for contract in existing:
        status = effective_status(contract, today)
        if status in BINDING and start < contract.end_date:
            raise Conflict(
                f"the resident already has a contract with team {contract.team_id} until "
                f"{contract.end_date.isoformat()}; a new cycle may start on or after that date",
                code="contract_overlap",
                field="start_date",
            )
        if status is ContractStatus.PENDING and contract.team_id == team_id:
            raise Conflict("a pending contract with this team already exists", code="contract_pending")


_TRANSITIONS: dict[ContractStatus, frozenset[ContractStatus]] = {
    ContractStatus.PENDING: frozenset(
        {
            ContractStatus.ACTIVE,
            ContractStatus.REFUSED,
            ContractStatus.CANCELLED,
            ContractStatus.UNABLE_TO_SIGN,
        }
    ),
    ContractStatus.ACTIVE: frozenset({ContractStatus.CANCELLED, ContractStatus.UNABLE_TO_SIGN}),
    ContractStatus.DUE_FOR_RENEWAL: frozenset({ContractStatus.CANCELLED, ContractStatus.UNABLE_TO_SIGN}),
}


def check_contract_transition(
    contract: Contract, new: ContractStatus, today: date, reason: UnableReason | None
) -> None:
    """Refuse a status change the life cycle does not allow."""
    current = effective_status(contract, today)
    if new not in _TRANSITIONS.get(current, frozenset()):
        raise RuleViolation(
            f"a contract that is {current.value} cannot become {new.value}",
            code="invalid_transition",
            field="status",
        )
    if new is ContractStatus.UNABLE_TO_SIGN and reason is None:
        raise RuleViolation(
            "marking a resident unable to sign needs a reason",
            code="reason_required",
            field="unable_reason",
        )
