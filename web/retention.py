"""Purging what has expired: `run.py purge` and the node's periodic task share this one job.

Each purged recording is crypto-shredded (its data key destroyed, then its segment files deleted;
storage/recordings.py) and gets an audit entry in the same transaction, so the trail says what was
destroyed, when and under which rule. Recordings under an active legal hold are left alone. Several
nodes may run the task: on PostgreSQL the rows are locked, so each recording is purged once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from consult.retention import RetentionPolicy
from storage import audit, recordings
from storage.blobstore import BlobStore
from storage.models import TombstoneRow
from web import keys

log = logging.getLogger(__name__)


async def purge_expired(
    sessions: async_sessionmaker[AsyncSession],
    blobs: BlobStore,
    now: datetime,
    timezone: str,
    policy: RetentionPolicy,
    lock: asyncio.Lock | None = None,
) -> tuple[list[recordings.Purged], list[TombstoneRow]]:
    """Destroy every expired, unheld recording, chat and medical record, and audit each; returns the
    recordings purged and the tombstones of the rest."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    async with lock or contextlib.nullcontext(), sessions() as session, session.begin():
        purged = await recordings.purge(session, blobs, today, now)
        for item in purged:
            await audit.append(
                session,
                audit.record_for(
                    None,
                    "purge",
                    "recording",
                    item.recording_id,
                    purpose="retention",
                    detail={
                        "consult_id": item.consult_id,
                        "segments": item.segments,
                        "expired_on": item.expired_on.isoformat(),
                        "method": "data key destroyed, then segment files deleted",
                    },
                ),
                at=now,
            )
        tombstones = await recordings.purge_records(session, blobs, policy, today, now)
        for stone in tombstones:
            await audit.append(
                session,
                audit.record_for(
                    None,
                    "purge",
                    stone.entity_type,
                    stone.entity_id,
                    purpose="retention",
                    detail={"kind": stone.kind, "expired_on": stone.expired_on.isoformat(), **stone.detail},
                ),
                at=now,
            )
    return purged, tombstones


async def periodic_purge(app: web.Application) -> AsyncIterator[None]:
    """A cleanup context: purge at start and then every `purge_interval_s` seconds."""
    settings = app[keys.SETTINGS]
    clock: Callable[[], datetime] = app[keys.CLOCK]

    async def loop() -> None:
        while True:
            try:
                purged, stones = await purge_expired(
                    app[keys.SESSIONS],
                    app[keys.BLOBS],
                    clock(),
                    settings.timezone,
                    settings.retention,
                    app.get(keys.SQLITE_WRITES),
                )
                if purged or stones:
                    log.info(
                        "retention: purged %d recording(s), %d other record(s)", len(purged), len(stones)
                    )
            except Exception:
                log.exception("retention purge failed; retrying at the next interval")
            await asyncio.sleep(settings.purge_interval_s)

    task = None if settings.purge_interval_s <= 0 else asyncio.get_running_loop().create_task(loop())
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
