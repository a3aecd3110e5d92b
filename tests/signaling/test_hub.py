"""The hub refuses quickly when it is overloaded, rather than letting events time out on the pool."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from signaling.hub import Hub
from signaling.namespace import HubBusy
from storage.blobstore import BlobStore
from storage.crypto import MasterKey


async def test_events_beyond_the_limit_get_busy_quickly(tmp_path: Path) -> None:
    hub = Hub(
        blobs=BlobStore(tmp_path, MasterKey(os.urandom(32))),
        verify_token=lambda _: 1,
        clock=lambda: datetime.now(UTC),
        timezone="Asia/Shanghai",
        max_in_flight=1,
        busy_wait_s=0.05,
    )
    async with hub.event_slot():
        with pytest.raises(HubBusy, match="busy"):
            async with hub.event_slot():
                pass
    async with hub.event_slot():  # the slot was given back
        pass
    await hub.stop()
