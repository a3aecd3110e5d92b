"""Family members bound to a resident (家属代理) act only within the scopes granted."""

from __future__ import annotations

import pytest

from consult.proxy import ProxyBinding, Relation
from consult.roles import ProxyScope


def test_binding_allows_only_its_scopes() -> None:
    binding = ProxyBinding(
        proxy_user_id=50,
        resident_id=100,
        relation=Relation.CHILD,
        scopes=frozenset({ProxyScope.CONSULT, ProxyScope.MESSAGE}),
    )
    assert binding.allows(ProxyScope.CONSULT)
    assert binding.allows(ProxyScope.MESSAGE)
    assert not binding.allows(ProxyScope.VIEW_RECORDS)
    assert not binding.allows(ProxyScope.CONSENT)


def test_binding_without_any_scope_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one scope"):
        ProxyBinding(proxy_user_id=50, resident_id=100, relation=Relation.SPOUSE, scopes=frozenset())
