"""Logging in, tokens, throttling, and who the caller is."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from tests.conftest import login
from tests.web.helpers import audit_rows


async def test_login_returns_bearer_token(client: TestClient) -> None:  # type: ignore[type-arg]
    resp = await client.post("/api/auth/login", json={"username": "doctor", "password": "jiayi-demo"})
    assert resp.status == 200
    body = await resp.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 8 * 3600
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    data = await me.json()
    assert (data["username"], data["role"]) == ("doctor", "doctor")
    assert data["practitioner"]["real_name_verified"] is True
    assert data["teams"][0]["name"] == "王建国家庭医生团队"


async def test_wrong_password_is_401_problem_and_audited(client: TestClient, database_url: str) -> None:  # type: ignore[type-arg]
    resp = await client.post("/api/auth/login", json={"username": "doctor", "password": "wrong-password"})
    assert resp.status == 401
    assert resp.content_type == "application/problem+json"
    assert (await resp.json())["code"] == "invalid_credentials"
    failures = await audit_rows(database_url, action="login", outcome="failure")
    assert [r.entity_id for r in failures] == ["doctor"]


async def test_unknown_user_gets_the_same_answer(client: TestClient) -> None:  # type: ignore[type-arg]
    resp = await client.post("/api/auth/login", json={"username": "nobody", "password": "jiayi-demo"})
    assert resp.status == 401
    assert (await resp.json())["detail"] == "wrong user name or password"


async def test_repeated_failures_are_throttled_even_with_the_right_password(client: TestClient) -> None:  # type: ignore[type-arg]
    for _ in range(5):
        resp = await client.post("/api/auth/login", json={"username": "nurse", "password": "guess-guess"})
        assert resp.status == 401
    resp = await client.post("/api/auth/login", json={"username": "nurse", "password": "jiayi-demo"})
    assert resp.status == 429
    assert int(resp.headers["Retry-After"]) > 0
    assert (await resp.json())["code"] == "login_throttled"


async def test_missing_forged_and_expired_tokens_are_refused(client: TestClient, settings: object) -> None:  # type: ignore[type-arg]
    assert (await client.get("/api/me")).status == 401
    resp = await client.get("/api/me", headers={"Authorization": "Bearer not.a.token"})
    assert resp.status == 401
    assert (await resp.json())["code"] == "invalid_token"
    from web import keys

    issuer = client.app[keys.TOKENS]
    now = client.app[keys.CLOCK]().timestamp()
    expired = issuer.issue(1, "doctor", now=now - issuer.ttl_s - 10)
    resp = await client.get("/api/me", headers={"Authorization": f"Bearer {expired}"})
    assert resp.status == 401
    assert "expired" in (await resp.json())["detail"]


async def test_proxy_sees_bound_resident(client: TestClient) -> None:  # type: ignore[type-arg]
    headers = await login(client, "proxy")
    data = await (await client.get("/api/me", headers=headers)).json()
    assert data["role"] == "proxy"
    assert [p["name"] for p in data["proxy_for"]] == ["赵秀兰"]
    assert data["proxy_for"][0]["relation"] == "child"


async def test_one_users_failures_do_not_lock_out_others_at_the_same_address(client: TestClient) -> None:  # type: ignore[type-arg]
    """A community centre shares one address: a resident's typos must not lock out the doctor."""
    for _ in range(6):
        await client.post("/api/auth/login", json={"username": "resident", "password": "typo-typo"})
    resp = await client.post("/api/auth/login", json={"username": "doctor", "password": "jiayi-demo"})
    assert resp.status == 200


async def test_password_spraying_from_one_address_is_stopped(client: TestClient) -> None:  # type: ignore[type-arg]
    from web import keys

    per_address = client.app[keys.THROTTLE].per_address
    for i in range(per_address):
        await client.post("/api/auth/login", json={"username": f"user{i}", "password": "Winter2026!"})
    resp = await client.post("/api/auth/login", json={"username": "doctor", "password": "jiayi-demo"})
    assert resp.status == 429
