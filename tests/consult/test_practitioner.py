"""The real-name rule (管理办法 art. 25): verified, and three years of practice for those who see patients."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from consult.errors import AccessDenied
from consult.practitioner import Practitioner, PractitionerKind, require_may_practise

K = PractitionerKind


def _practitioner(
    kind: PractitionerKind = K.DOCTOR, *, verified: bool = True, years: int = 12
) -> Practitioner:
    return Practitioner(
        id=5,
        name="李建国",
        kind=kind,
        organization_id=1,
        real_name_verified=verified,
        years_of_practice=years,
        licence_number="110310000012345",
        verified_at=datetime(2023, 1, 5, tzinfo=UTC) if verified else None,
    )


@pytest.mark.parametrize("kind", list(K))
def test_verified_experienced_practitioner_may_practise(kind: PractitionerKind) -> None:
    practitioner = _practitioner(kind)
    assert require_may_practise(practitioner) is practitioner


@pytest.mark.parametrize("kind", [K.DOCTOR, K.SPECIALIST])
def test_exactly_three_years_is_enough(kind: PractitionerKind) -> None:
    practitioner = _practitioner(kind, years=3)
    assert require_may_practise(practitioner) is practitioner


@pytest.mark.parametrize("kind", [K.DOCTOR, K.SPECIALIST])
@pytest.mark.parametrize("years", [0, 2])
def test_doctor_or_specialist_under_three_years_is_refused(kind: PractitionerKind, years: int) -> None:
    with pytest.raises(
        AccessDenied, match=f"at least 3 years of practice, this practitioner has {years}"
    ) as info:
        require_may_practise(_practitioner(kind, years=years))
    assert info.value.code == "practitioner_inexperienced"


def test_nurse_is_not_bound_by_years_of_practice() -> None:
    nurse = _practitioner(K.NURSE, years=0)
    assert require_may_practise(nurse) is nurse


@pytest.mark.parametrize("kind", list(K))
def test_unverified_practitioner_is_refused_whatever_the_experience(kind: PractitionerKind) -> None:
    with pytest.raises(AccessDenied, match="not real-name verified") as info:
        require_may_practise(_practitioner(kind, verified=False, years=30))
    assert info.value.code == "practitioner_unverified"


def test_unverified_beats_inexperienced_in_the_reason_given() -> None:
    with pytest.raises(AccessDenied) as info:
        require_may_practise(_practitioner(K.DOCTOR, verified=False, years=1))
    assert info.value.code == "practitioner_unverified"


def test_account_without_practitioner_is_refused() -> None:
    with pytest.raises(AccessDenied, match="not linked to a practitioner") as info:
        require_may_practise(None)
    assert info.value.code == "not_a_practitioner"


def test_negative_years_of_practice_is_refused() -> None:
    with pytest.raises(ValueError, match="years_of_practice must be >= 0, got -1"):
        _practitioner(years=-1)
