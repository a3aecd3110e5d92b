"""Small helpers shared by the API tests."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from storage.db import create_engine, create_sessionmaker
from storage.models import AuditEventRow


async def resident_id(client: TestClient, headers: dict[str, str], name: str) -> int:  # type: ignore[type-arg]
    """Find a demo resident by name through the API."""
    resp = await client.get("/api/residents", params={"q": name}, headers=headers)
    assert resp.status == 200, await resp.text()
    items = (await resp.json())["items"]
    assert [i["name"] for i in items] == [name]
    return int(items[0]["id"])


async def table_counts(database_url: str) -> dict[str, int]:
    """Row counts of every table except the audit trail, to show a refused request wrote nothing."""
    from storage.models import Base

    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            counts = {}
            for name, table in Base.metadata.tables.items():
                if name in ("audit_events", "audit_head"):
                    continue
                counts[name] = int(await session.scalar(select(func.count()).select_from(table)) or 0)
            return counts
    finally:
        await engine.dispose()


async def audit_rows(database_url: str, **where: Any) -> list[AuditEventRow]:
    """Audit entries matching column=value filters, oldest first."""
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            stmt = select(AuditEventRow).order_by(AuditEventRow.seq)
            for column, value in where.items():
                stmt = stmt.where(getattr(AuditEventRow, column) == value)
            return list((await session.scalars(stmt)).all())
    finally:
        await engine.dispose()
