"""Family members acting for a resident (FHIR RelatedPerson) and the scopes they were granted."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from consult.roles import ProxyScope


class Relation(enum.StrEnum):
    """How the proxy is related to the resident (FHIR v3 RoleCode, simplified)."""

    CHILD = "child"
    SPOUSE = "spouse"
    PARENT = "parent"
    SIBLING = "sibling"
    GUARDIAN = "guardian"
    OTHER = "other"


@dataclass(frozen=True)
class ProxyBinding:
    """A proxy user bound to a resident, able to act only within `scopes`."""

    proxy_user_id: int
    resident_id: int
    relation: Relation
    scopes: frozenset[ProxyScope]

    def __post_init__(self) -> None:
        if not self.scopes:
            raise ValueError("a proxy binding needs at least one scope")

    def allows(self, scope: ProxyScope) -> bool:
        """Whether this binding grants `scope`."""
        return scope in self.scopes
