"""Practitioners (doctors, nurses, specialists) and the real-name rule that lets them act online."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from consult.errors import AccessDenied

#: 互联网诊疗管理办法 art. 25: online diagnosis needs three or more years of independent practice.
MIN_YEARS_OF_PRACTICE = 3


class PractitionerKind(enum.StrEnum):
    """What the practitioner is (FHIR PractitionerRole.code)."""

    DOCTOR = "doctor"
    NURSE = "nurse"
    SPECIALIST = "specialist"


@dataclass(frozen=True)
class Practitioner:
    """A health professional (FHIR Practitioner) working for one organization."""

    id: int
    name: str
    kind: PractitionerKind
    organization_id: int
    real_name_verified: bool
    years_of_practice: int
    licence_number: str | None = None
    verified_at: datetime | None = None
    department: str | None = None

    def __post_init__(self) -> None:
        if self.years_of_practice < 0:
            raise ValueError(f"years_of_practice must be >= 0, got {self.years_of_practice!r}")


def require_may_practise(practitioner: Practitioner | None) -> Practitioner:
    """Refuse a practitioner who is not real-name verified, or a doctor with too little practice.

    Nurses support the team and are not bound by the years-of-practice rule; doctors and
    specialists who see patients online are.
    """
    if practitioner is None:
        raise AccessDenied("this account is not linked to a practitioner", code="not_a_practitioner")
    if not practitioner.real_name_verified:
        raise AccessDenied(
            "practitioner is not real-name verified and may not act as one",
            code="practitioner_unverified",
        )
    if (
        practitioner.kind is not PractitionerKind.NURSE
        and practitioner.years_of_practice < MIN_YEARS_OF_PRACTICE
    ):
        raise AccessDenied(
            f"online consults need at least {MIN_YEARS_OF_PRACTICE} years of practice, "
            f"this practitioner has {practitioner.years_of_practice}",
            code="practitioner_inexperienced",
        )
    return practitioner
