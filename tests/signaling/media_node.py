"""A node with one media worker, and participants joining its media as a page does: shared by the
hub's media tests, the two-node tests and the audio/video sync test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from media.settings import MediaSettings
from signaling.media_events import EVENTS
from tests.media.peers import ClientPeer
from tests.signaling.conftest import Client, Live, ack_ok, serve_live
from web.settings import Settings


@pytest.fixture
async def media_live(settings: Settings, aiohttp_server: Any) -> AsyncIterator[Live]:
    """A node on this test's database with one media worker cutting 1-second recording segments,
    clock at 10:00 on the demo day."""
    media = MediaSettings(host_addresses=("127.0.0.1",), workers=1, segment_s=1.0)
    async for node in serve_live(settings, aiohttp_server, media=media):
        yield node


async def media_peer(
    client: Client,
    consult_id: int,
    colour: str | None,
    *,
    audio: bool = True,
    peer_class: type[ClientPeer] = ClientPeer,
) -> ClientPeer:
    """Join the consult's media as a page does (listening before it joins) and publish a camera of
    `colour` and a microphone; with neither (`colour=None, audio=False`) it only receives.
    `peer_class` may publish other sources of its own."""
    early: list[tuple[str, Any]] = []
    joined_peer: list[ClientPeer] = []

    def deliver(name: str, data: Any) -> None:
        if joined_peer:
            joined_peer[0].on_event(name, data)
        else:
            early.append((name, data))

    for name, event in EVENTS.items():
        client.sio.on(event, lambda data, name=name: deliver(name, data), namespace="/consult")
    joined = ack_ok(await client.call("/consult", "media_join", {"consult_id": consult_id}))
    assert joined["ice_servers"] == []  # no STUN/TURN configured: nothing, never a public default

    async def send_offer(sdp: str) -> str:
        ack = ack_ok(await client.call("/consult", "media_offer", {"consult_id": consult_id, "sdp": sdp}))
        return str(ack["sdp"])

    async def send_answer(sdp: str) -> None:
        ack_ok(await client.call("/consult", "media_answer", {"consult_id": consult_id, "sdp": sdp}))

    peer = peer_class(joined["participant_id"], send_offer, send_answer, colour=colour, audio=audio)
    joined_peer.append(peer)
    for name, data in early:
        peer.on_event(name, data)
    if colour is None and not audio and peer_class is ClientPeer:
        peer.pc.addTransceiver("audio", direction="recvonly")
        peer.pc.addTransceiver("video", direction="recvonly")
    await peer.connect()
    return peer
