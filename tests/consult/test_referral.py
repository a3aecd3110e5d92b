"""Referrals (转诊) to a specialist: what they need and how their status moves."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from consult.errors import RuleViolation
from consult.referral import (
    OPEN,
    Referral,
    ReferralStatus,
    SharedResult,
    check_referral_transition,
)

R = ReferralStatus
ALLOWED = {
    (R.REQUESTED, R.ACCEPTED),
    (R.REQUESTED, R.DECLINED),
    (R.REQUESTED, R.CANCELLED),
    (R.ACCEPTED, R.COMPLETED),
    (R.ACCEPTED, R.CANCELLED),
}


def _referral(reason: str = "血糖控制不佳，请内分泌科会诊") -> Referral:
    return Referral(
        id=1,
        resident_id=100,
        from_team_id=10,
        to_organization_id=2,
        to_practitioner_id=None,
        reason=reason,
        status=R.REQUESTED,
        created_at=datetime(2024, 6, 1, 9, 0, tzinfo=UTC),
        shared_results=(SharedResult("糖化血红蛋白", "8.9%", "2024-05-28"),),
        shared_condition_ids=(7,),
    )


def test_referral_keeps_what_it_shares() -> None:
    referral = _referral()
    assert referral.shared_results[0].value == "8.9%"
    assert referral.shared_condition_ids == (7,)
    assert referral.specialist_opinion == ""


@pytest.mark.parametrize("reason", ["", "   "])
def test_referral_without_a_reason_is_refused(reason: str) -> None:
    with pytest.raises(ValueError, match="needs a reason"):
        _referral(reason)


def test_only_requested_and_accepted_referrals_are_open() -> None:
    assert {s for s in R if s in OPEN} == {R.REQUESTED, R.ACCEPTED}


@pytest.mark.parametrize(("current", "new"), sorted(ALLOWED))
def test_allowed_referral_transitions(current: ReferralStatus, new: ReferralStatus) -> None:
    check_referral_transition(current, new)


@pytest.mark.parametrize(
    ("current", "new"),
    sorted((a, b) for a in R for b in R if (a, b) not in ALLOWED),
)
def test_every_other_referral_transition_is_refused(current: ReferralStatus, new: ReferralStatus) -> None:
    with pytest.raises(
        RuleViolation, match=f"referral that is {current.value} cannot become {new.value}"
    ) as info:
        check_referral_transition(current, new)
    assert info.value.code == "invalid_transition"
    assert info.value.field == "status"


def test_requested_referral_cannot_be_completed_before_acceptance() -> None:
    with pytest.raises(RuleViolation, match="requested cannot become completed"):
        check_referral_transition(R.REQUESTED, R.COMPLETED)
