"""Fixtures for the media tests: a media room in this process with aiortc participants on loopback.

No database: media tests need none. Every room and peer a test opens is closed by the fixtures, and
`assert_nothing_leaked` checks that no task or decoder thread outlives them.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest

from media import eventloop
from media.room import MediaRoom
from media.settings import MediaSettings
from tests.media.peers import ClientPeer


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Any]:
    """The media tests run on the media worker's event loop (media/eventloop.py), as the worker does."""
    return {"media_loop": eventloop.new_event_loop}


class Call:
    """A media room and the aiortc participants connected to it."""

    def __init__(self, settings: MediaSettings) -> None:
        self.room = MediaRoom("consult-1", settings, self._route)
        self.peers: dict[str, ClientPeer] = {}

    def _route(self, participant_id: str, name: str, payload: dict[str, Any]) -> None:
        peer = self.peers.get(participant_id)
        if peer is not None:
            peer.on_event(name, payload)

    async def join(
        self, participant_id: str, *, colour: str | None = "red", audio: bool = True
    ) -> ClientPeer:
        """Join `participant_id` and publish their camera (`colour`) and microphone."""
        peer = ClientPeer(
            participant_id,
            lambda sdp: self.room.offer(participant_id, sdp),
            lambda sdp: self.room.answer(participant_id, sdp),
            colour=colour,
            audio=audio,
        )
        self.peers[participant_id] = peer
        await self.room.join(participant_id, f"user-{participant_id}", "doctor")
        await peer.connect()
        return peer

    async def hang_up(self, participant_id: str) -> None:
        """The participant closes their tab and the hub tells the room."""
        peer = self.peers.pop(participant_id)
        await peer.close()
        await self.room.leave(participant_id)

    async def close(self) -> None:
        for peer in list(self.peers.values()):
            await peer.close()
        self.peers.clear()
        await self.room.close()


def fast_settings(**changes: Any) -> MediaSettings:
    """Settings for loopback tests."""
    return MediaSettings(host_addresses=("127.0.0.1",), **changes)


@pytest.fixture
async def call() -> AsyncIterator[Call]:
    """A media room on loopback; closed, and checked for leaks, after the test."""
    result = Call(fast_settings())
    try:
        yield result
    finally:
        await result.close()
    await assert_nothing_leaked()


def _decoder_threads() -> list[str]:
    # aiortc starts one per receiver ("audio-decoder", "video-decoder") and joins it when the receiver stops.
    return [t.name for t in threading.enumerate() if t.name.endswith("-decoder")]


async def assert_nothing_leaked() -> None:
    """No task but the caller's is left on the loop, and no receiver's decoder thread is left running."""
    current = asyncio.current_task()
    others: list[asyncio.Task[Any]] = []
    for _ in range(40):
        others = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        if not others and not _decoder_threads():
            return
        await asyncio.sleep(0.05)
    names = sorted(f"{t.get_name()} {t.get_coro()!r}" for t in others)
    raise AssertionError(f"leaked tasks: {names}; decoder threads: {_decoder_threads()}")
