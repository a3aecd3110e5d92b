"""Shared fixtures: a migrated database with the demo data per test, on SQLite and on PostgreSQL.

Each backend gets a template database migrated and loaded once per run; every test then gets its
own copy (a file copy on SQLite, `CREATE DATABASE ... TEMPLATE` on PostgreSQL), so tests never see
each other's writes and each run uses databases named after it, never colliding with another run.
PostgreSQL and Redis are part of every developer's and CI's machine: when they are missing the
tests that need them fail with the command that starts them, they are never skipped.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from storage import demo
from storage.crypto import FieldProtector, derive_key
from storage.db import create_engine, create_sessionmaker
from storage.migrate import upgrade
from web.app import create_app
from web.settings import Settings

PG_DSN = os.environ.get("JIAYI_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = b"jiayi-test-secret-key-0123456789abcdef"
#: One instant for the whole run: demo dates and the apps' clocks agree, whenever the run happens.
NOW = datetime.now(UTC).replace(microsecond=0)
TIMEZONE = "Asia/Shanghai"
TODAY = NOW.astimezone(ZoneInfo(TIMEZONE)).date()
RUN_ID = uuid.uuid4().hex[:8]
T = TypeVar("T")


def protector() -> FieldProtector:
    """The field protector the test apps derive from SECRET."""
    return FieldProtector(
        derive_key(SECRET, "jiayi field encryption"), derive_key(SECRET, "jiayi field index")
    )


async def _load_template(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        async with create_sessionmaker(engine)() as session, session.begin():
            await demo.load(session, protector(), TODAY, TIMEZONE)
    finally:
        await engine.dispose()


def _pg_url(name: str) -> str:
    base = PG_DSN.rsplit("/", 1)[0]
    return f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://")


async def _pg_admin(sql: str) -> None:
    try:
        conn = await asyncpg.connect(PG_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as err:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_DSN} ({err}). It runs on every developer's and CI's "
            "machine; start it with: "
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
            pytrace=False,
        )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even when an event loop is running in this thread
    (session fixtures are first requested from inside async tests)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@dataclass
class Template:
    """A migrated database with demo data, to copy per test."""

    backend: str
    location: str  # file path (SQLite) or database name (PostgreSQL)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    path = tmp_path_factory.mktemp("template") / "template.db"
    run_blocking(_load_template(f"sqlite+aiosqlite:///{path}"))
    return Template("sqlite", str(path))


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[Template]:
    name = f"jiayi_tmpl_{RUN_ID}"
    run_blocking(_pg_admin(f'CREATE DATABASE "{name}"'))
    run_blocking(_load_template(_pg_url(name)))
    yield Template("postgres", name)
    run_blocking(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """Runs the test once per database backend."""
    return str(request.param)


@pytest.fixture
async def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh copy of the demo database for this test."""
    if backend == "sqlite":
        template: Template = request.getfixturevalue("sqlite_template")
        target = tmp_path / "jiayi.db"
        shutil.copyfile(template.location, target)
        yield f"sqlite+aiosqlite:///{target}"
        return
    template = request.getfixturevalue("postgres_template")
    name = f"jiayi_t_{RUN_ID}_{uuid.uuid4().hex[:8]}"
    await _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template.location}"')
    yield _pg_url(name)
    await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for a test node on this test's database."""
    return Settings(
        database_url=database_url, secret_key=SECRET, data_dir=tmp_path / "var", timezone=TIMEZONE
    )


@pytest.fixture
async def client(settings: Settings, aiohttp_client: object) -> TestClient:  # type: ignore[type-arg]
    """A test client of the real app on this test's database, with the run's fixed clock."""
    app = create_app(settings, clock=lambda: NOW)
    return await aiohttp_client(app)  # type: ignore[operator,no-any-return]


async def login(client: TestClient, username: str, password: str = demo.DEMO_PASSWORD) -> dict[str, str]:  # type: ignore[type-arg]
    """Log in and return the Authorization header."""
    resp = await client.post("/api/auth/login", json={"username": username, "password": password})
    assert resp.status == 200, await resp.text()
    token = (await resp.json())["access_token"]
    return {"Authorization": f"Bearer {token}"}
