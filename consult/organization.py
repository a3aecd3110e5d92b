"""Organizations: the community health centre that employs family-doctor teams, and referral hospitals."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class OrganizationKind(enum.StrEnum):
    """FHIR Organization.type, narrowed to the two kinds Jiayi deals with."""

    COMMUNITY_HEALTH_CENTRE = "community_health_centre"
    REFERRAL_HOSPITAL = "referral_hospital"


@dataclass(frozen=True)
class Organization:
    """A health-care organization (FHIR Organization)."""

    id: int
    name: str
    kind: OrganizationKind

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError(f"organization name must not be blank, got {self.name!r}")
