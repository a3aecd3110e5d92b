"""The sign-up contract (签约) life cycle: one-year cycles, renewal window, overlaps, transitions."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from consult.contract import (
    Contract,
    ContractStatus,
    ServicePackage,
    UnableReason,
    binding_contract,
    check_can_sign,
    check_contract_transition,
    effective_status,
    one_year_from,
)
from consult.errors import Conflict, RuleViolation

START = date(2024, 3, 1)
END = date(2025, 3, 1)


def _contract(
    *,
    id: int = 1,
    team_id: int = 10,
    start: date = START,
    end: date = END,
    status: ContractStatus = ContractStatus.ACTIVE,
    unable_reason: UnableReason | None = None,
) -> Contract:
    return Contract(
        id=id,
        resident_id=100,
        team_id=team_id,
        package=ServicePackage.BASIC,
        start_date=start,
        end_date=end,
        status=status,
        unable_reason=unable_reason,
    )


# --- one-year cycles ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2024, 3, 1), date(2025, 3, 1)),
        (date(2023, 12, 31), date(2024, 12, 31)),
        (date(2024, 2, 28), date(2025, 2, 28)),
        (date(2024, 2, 29), date(2025, 2, 28)),  # no 29 February in 2025
        (date(2027, 2, 28), date(2028, 2, 28)),  # 2028 is a leap year: stays on the 28th
    ],
)
def test_one_year_cycle_end_date(start: date, end: date) -> None:
    assert one_year_from(start) == end


def test_contract_ending_on_or_before_its_start_is_refused() -> None:
    with pytest.raises(ValueError, match="end_date 2024-03-01 must be after start_date 2024-03-01"):
        _contract(end=START)


def test_unable_to_sign_contract_needs_a_reason() -> None:
    with pytest.raises(ValueError, match="unable_reason"):
        _contract(status=ContractStatus.UNABLE_TO_SIGN)


# --- effective status and the renewal window ------------------------------------------------


@pytest.mark.parametrize(
    ("today", "status"),
    [
        (START, ContractStatus.ACTIVE),
        (END - timedelta(days=31), ContractStatus.ACTIVE),  # one day before the window opens
        (END - timedelta(days=30), ContractStatus.DUE_FOR_RENEWAL),  # first day of the window
        (END - timedelta(days=1), ContractStatus.DUE_FOR_RENEWAL),  # last day of the cycle
        (END, ContractStatus.EXPIRED),  # the end date itself is outside the cycle
        (END + timedelta(days=200), ContractStatus.EXPIRED),
    ],
)
def test_active_contract_turns_due_then_expired_by_date(today: date, status: ContractStatus) -> None:
    assert effective_status(_contract(), today) is status


def test_stored_due_status_is_recomputed_from_the_dates() -> None:
    contract = _contract(status=ContractStatus.DUE_FOR_RENEWAL)
    assert effective_status(contract, date(2024, 6, 1)) is ContractStatus.ACTIVE
    assert effective_status(contract, END) is ContractStatus.EXPIRED


@pytest.mark.parametrize(
    "status",
    [ContractStatus.PENDING, ContractStatus.CANCELLED, ContractStatus.REFUSED],
)
def test_non_binding_status_is_shown_as_stored_even_after_the_end(status: ContractStatus) -> None:
    contract = _contract(status=status)
    assert effective_status(contract, END + timedelta(days=10)) is status
    assert effective_status(contract, END - timedelta(days=5)) is status


# --- which contract binds the resident today ------------------------------------------------


def test_binding_contract_is_the_active_one() -> None:
    old = _contract(id=1, start=date(2023, 3, 1), end=START)
    current = _contract(id=2, start=START, end=END)
    cancelled = _contract(id=3, team_id=11, status=ContractStatus.CANCELLED)
    assert binding_contract([old, cancelled, current], date(2024, 7, 1)) == current


def test_contract_due_for_renewal_still_binds() -> None:
    contract = _contract()
    assert binding_contract([contract], END - timedelta(days=1)) == contract


def test_expired_contract_no_longer_binds() -> None:
    assert binding_contract([_contract()], END) is None


def test_renewal_signed_in_advance_binds_only_from_its_start() -> None:
    current = _contract(id=1)
    renewal = _contract(id=2, team_id=11, start=END, end=one_year_from(END))
    assert binding_contract([renewal, current], END - timedelta(days=1)) == current
    assert binding_contract([renewal, current], END) == renewal


def test_pending_contract_does_not_bind() -> None:
    assert binding_contract([_contract(status=ContractStatus.PENDING)], date(2024, 7, 1)) is None


# --- signing a new cycle --------------------------------------------------------------------


def test_overlapping_contract_is_refused_with_contract_overlap() -> None:
    existing = [_contract(team_id=10)]
    with pytest.raises(Conflict, match="team 10 until 2025-03-01") as info:
        check_can_sign(existing, team_id=11, start=date(2024, 9, 1), today=date(2024, 9, 1))
    assert info.value.code == "contract_overlap"
    assert info.value.field == "start_date"


def test_overlap_is_refused_also_with_the_same_team() -> None:
    with pytest.raises(Conflict) as info:
        check_can_sign(
            [_contract(team_id=10)], team_id=10, start=END - timedelta(days=1), today=date(2025, 2, 1)
        )
    assert info.value.code == "contract_overlap"


def test_renewal_starting_on_the_end_date_is_allowed() -> None:
    check_can_sign([_contract(team_id=10)], team_id=10, start=END, today=END - timedelta(days=20))


def test_switching_team_at_renewal_is_allowed() -> None:
    check_can_sign([_contract(team_id=10)], team_id=11, start=END, today=END - timedelta(days=5))


def test_a_future_cycle_already_signed_blocks_another() -> None:
    current = _contract(id=1, team_id=10)
    renewal = _contract(id=2, team_id=10, start=END, end=one_year_from(END))
    with pytest.raises(Conflict) as info:
        check_can_sign([current, renewal], team_id=11, start=END, today=END - timedelta(days=10))
    assert info.value.code == "contract_overlap"


def test_signing_after_an_expired_contract_is_allowed() -> None:
    check_can_sign([_contract()], team_id=11, start=END + timedelta(days=40), today=END + timedelta(days=40))


@pytest.mark.parametrize("status", [ContractStatus.CANCELLED, ContractStatus.REFUSED])
def test_cancelled_or_refused_contracts_do_not_block(status: ContractStatus) -> None:
    check_can_sign([_contract(status=status)], team_id=10, start=date(2024, 6, 1), today=date(2024, 6, 1))


def test_second_pending_contract_with_the_same_team_is_refused() -> None:
    pending = _contract(status=ContractStatus.PENDING, team_id=10)
    with pytest.raises(Conflict, match="pending contract with this team") as info:
        check_can_sign([pending], team_id=10, start=date(2024, 6, 1), today=date(2024, 6, 1))
    assert info.value.code == "contract_pending"


def test_pending_contract_with_another_team_does_not_block() -> None:
    pending = _contract(status=ContractStatus.PENDING, team_id=10)
    check_can_sign([pending], team_id=11, start=date(2024, 6, 1), today=date(2024, 6, 1))


def test_contract_starting_today_is_allowed() -> None:
    check_can_sign([], team_id=10, start=date(2024, 6, 1), today=date(2024, 6, 1))


def test_contract_starting_two_days_ago_is_refused() -> None:
    with pytest.raises(RuleViolation, match="cannot start in the past") as info:
        check_can_sign([], team_id=10, start=date(2024, 5, 30), today=date(2024, 6, 1))
    assert info.value.field == "start_date"


def test_contract_starting_yesterday_is_refused() -> None:
    # The rule says "a contract cannot start in the past"; yesterday is in the past.
    with pytest.raises(RuleViolation, match="cannot start in the past"):
        check_can_sign([], team_id=10, start=date(2024, 5, 31), today=date(2024, 6, 1))


# --- status transitions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "today", "new"),
    [
        (ContractStatus.PENDING, date(2024, 3, 1), ContractStatus.ACTIVE),
        (ContractStatus.PENDING, date(2024, 3, 1), ContractStatus.REFUSED),
        (ContractStatus.PENDING, date(2024, 3, 1), ContractStatus.CANCELLED),
        (ContractStatus.ACTIVE, date(2024, 6, 1), ContractStatus.CANCELLED),
        (ContractStatus.ACTIVE, END - timedelta(days=3), ContractStatus.CANCELLED),  # due for renewal
    ],
)
def test_allowed_contract_transitions(stored: ContractStatus, today: date, new: ContractStatus) -> None:
    check_contract_transition(_contract(status=stored), new, today, None)


@pytest.mark.parametrize(
    ("stored", "today", "new", "message"),
    [
        (ContractStatus.ACTIVE, date(2024, 6, 1), ContractStatus.PENDING, "active cannot become pending"),
        (ContractStatus.ACTIVE, date(2024, 6, 1), ContractStatus.REFUSED, "active cannot become refused"),
        (ContractStatus.ACTIVE, END, ContractStatus.CANCELLED, "expired cannot become cancelled"),
        (ContractStatus.CANCELLED, date(2024, 6, 1), ContractStatus.ACTIVE, "cancelled cannot become active"),
        (ContractStatus.REFUSED, date(2024, 6, 1), ContractStatus.ACTIVE, "refused cannot become active"),
        (
            ContractStatus.ACTIVE,
            END - timedelta(days=3),
            ContractStatus.ACTIVE,
            "due_for_renewal cannot become active",
        ),
    ],
)
def test_refused_contract_transitions(
    stored: ContractStatus, today: date, new: ContractStatus, message: str
) -> None:
    with pytest.raises(RuleViolation, match=message) as info:
        check_contract_transition(_contract(status=stored), new, today, None)
    assert info.value.code == "invalid_transition"
    assert info.value.field == "status"


def test_marking_unable_to_sign_needs_a_reason() -> None:
    with pytest.raises(RuleViolation, match="needs a reason") as info:
        check_contract_transition(_contract(), ContractStatus.UNABLE_TO_SIGN, date(2024, 6, 1), None)
    assert info.value.code == "reason_required"
    assert info.value.field == "unable_reason"


@pytest.mark.parametrize("stored", [ContractStatus.PENDING, ContractStatus.ACTIVE])
def test_marking_unable_to_sign_with_a_reason_is_allowed(stored: ContractStatus) -> None:
    check_contract_transition(
        _contract(status=stored), ContractStatus.UNABLE_TO_SIGN, date(2024, 6, 1), UnableReason.DECEASED
    )
