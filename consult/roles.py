"""Who a user is to the system: roles, and the scopes a proxy is granted for a resident."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    """A user's role; one per account."""

    RESIDENT = "resident"
    PROXY = "proxy"
    DOCTOR = "doctor"
    NURSE = "nurse"
    SPECIALIST = "specialist"
    COMPLIANCE = "compliance"
    ADMIN = "admin"

    @property
    def is_practitioner(self) -> bool:
        """Doctors, nurses and specialists act clinically and must be real-name verified."""
        return self in (Role.DOCTOR, Role.NURSE, Role.SPECIALIST)


class ProxyScope(enum.StrEnum):
    """What a family member bound to a resident may do on the resident's behalf."""

    CONSULT = "consult"
    CONSENT = "consent"
    MESSAGE = "message"
    VIEW_RECORDS = "view_records"
