"""Run alembic migrations programmatically on an async engine, and check models against them."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.models import Base

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str | None = None) -> Config:
    """An alembic `Config` pointing at `storage/migrations` (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database to `revision` in one transaction (PostgreSQL) or as far as SQLite allows."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, revision)


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"render_as_batch": True})
    return list(compare_metadata(context, Base.metadata))


async def pending_model_changes(engine: AsyncEngine) -> list[object]:
    """What `alembic check` would report: differences between the models and the migrated schema."""
    async with engine.connect() as conn:
        return await conn.run_sync(_diff)
