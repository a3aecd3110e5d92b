"""Operational endpoints, the OpenAPI document, request-level errors, the audit trail and pages."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from tests.conftest import login
from tests.web.helpers import table_counts
from web.app import API


async def test_healthz_reports_the_database(client: TestClient) -> None:  # type: ignore[type-arg]
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok", "database": "ok"}


async def test_metrics_count_requests_by_route(client: TestClient) -> None:  # type: ignore[type-arg]
    await login(client, "doctor")
    text = await (await client.get("/metrics")).text()
    assert 'jiayi_http_requests_total{method="POST",route="/api/auth/login",status="200"} 1.0' in text
    assert 'jiayi_logins_total{outcome="success"} 1.0' in text


async def test_openapi_describes_every_operation(client: TestClient) -> None:  # type: ignore[type-arg]
    doc = await (await client.get("/api/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    for op in API.operations:
        item = doc["paths"][op.path][op.method.lower()]
        assert item["operationId"] == op.operation_id
        if op.body is not None:
            ref = item["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            assert ref.rsplit("/", 1)[1] in doc["components"]["schemas"]
    login_schema = doc["components"]["schemas"]["LoginIn"]
    assert set(login_schema["required"]) == {"username", "password"}
    assert doc["components"]["schemas"]["Problem"]["properties"]["code"]["type"] == "string"


async def test_body_errors_are_problems_and_write_nothing(client: TestClient, database_url: str) -> None:  # type: ignore[type-arg]
    doctor = await login(client, "doctor")
    before = await table_counts(database_url)
    resp = await client.post(
        "/api/consults", headers={**doctor, "Content-Type": "application/json"}, data=b"{not json"
    )
    assert (resp.status, (await resp.json())["code"]) == (400, "invalid_json")
    resp = await client.post("/api/consults", headers={**doctor, "Content-Type": "text/plain"}, data=b"{}")
    assert resp.status == 415
    resp = await client.post(
        "/api/consults", headers=doctor, json={"resident_id": 2, "kind": "advice", "reason": "x" * 100_000}
    )
    assert resp.status == 413
    resp = await client.post("/api/consults", headers=doctor, json={"kind": "advice"})
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["field"] == "resident_id"
    resp = await client.post("/api/consults", headers=doctor, json={"resident_id": "two", "kind": "chat"})
    assert {e["field"] for e in (await resp.json())["errors"]} == {"resident_id", "kind"}
    resp = await client.post(
        "/api/consults", headers=doctor, json={"resident_id": 2, "kind": "advice", "x": 1}
    )
    assert (await resp.json())["errors"][0]["field"] == "x"
    resp = await client.post("/api/consults", headers=doctor, json=[1, 2])
    assert resp.status == 422
    assert await table_counts(database_url) == before


async def test_audit_trail_for_compliance_only(client: TestClient) -> None:  # type: ignore[type-arg]
    doctor = await login(client, "doctor")
    await client.get("/api/residents/2", headers=doctor)
    assert (await client.get("/api/audit", headers=doctor)).status == 403
    compliance = await login(client, "compliance")
    page = await (await client.get("/api/audit", params={"resident_id": 2}, headers=compliance)).json()
    reads = [e for e in page["items"] if e["action"] == "read" and e["entity_type"] == "resident"]
    assert reads and reads[0]["actor_username"] == "doctor"
    assert len(reads[0]["hash"]) == 64


async def test_pages_are_served_without_external_resources(client: TestClient) -> None:  # type: ignore[type-arg]
    for path in ("/login", "/workbench", "/residents/1", "/home"):
        resp = await client.get(path)
        assert resp.status == 200, path
        assert resp.content_type == "text/html"
        html = await resp.text()
        assert "http://" not in html and "https://" not in html, path
        assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    resp = await client.get("/", allow_redirects=False)
    assert (resp.status, resp.headers["Location"]) == (302, "/login")
