"""Organizations: community health centres and referral hospitals."""

from __future__ import annotations

import pytest

from consult.organization import Organization, OrganizationKind


def test_organization_without_a_name_is_refused() -> None:
    with pytest.raises(ValueError, match="organization name must not be blank"):
        Organization(id=1, name="  ", kind=OrganizationKind.COMMUNITY_HEALTH_CENTRE)
