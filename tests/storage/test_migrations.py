"""The migrations build the schema the models describe, on both backends (what `alembic check` checks)."""

from __future__ import annotations

from storage.db import create_engine
from storage.migrate import pending_model_changes


async def test_models_match_migrations(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        assert await pending_model_changes(engine) == []
    finally:
        await engine.dispose()
