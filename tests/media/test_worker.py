"""Media workers as separate processes: placement, a call through a worker, and a clean shutdown."""

from __future__ import annotations

import os
from typing import Any

import pytest

from media.client import WorkerClient
from media.errors import InvalidSdp, UnknownParticipant
from media.pool import MediaPool
from media.settings import MediaSettings
from tests.media.peers import ClientPeer, eventually


def alive(pid: int) -> bool:
    """Whether a process with this pid exists (a zombie counts: it was not reaped)."""
    return os.path.exists(f"/proc/{pid}")


async def test_a_call_through_a_pool_of_two_workers() -> None:
    peers: dict[tuple[str, str], ClientPeer] = {}

    def on_event(consult_id: str, participant_id: str | None, name: str, data: dict[str, Any]) -> None:
        peer = peers.get((consult_id, participant_id or ""))
        if peer is not None:
            peer.on_event(name, data)

    pool = MediaPool(MediaSettings(host_addresses=("127.0.0.1",), workers=2), on_event)
    await pool.start()
    pids = pool.worker_pids
    try:
        assert len(pids) == 2 and all(alive(pid) for pid in pids) and os.getpid() not in pids

        # Two consults land on different workers, and stay where they were placed.
        followup, referral = pool.room_for("consult-a"), pool.room_for("consult-b")
        await followup.join("resident", "user-r", "resident")
        await referral.join("doctor", "user-d", "doctor")
        assert {pool.worker_of("consult-a"), pool.worker_of("consult-b")} == set(pids)
        await followup.join("doctor", "user-d", "doctor")
        assert pool.worker_of("consult-a") != pool.worker_of("consult-b")

        # A follow-up call: resident and doctor see each other through their worker.
        for participant_id, colour in (("resident", "red"), ("doctor", "blue")):
            peer = ClientPeer(
                participant_id,
                lambda sdp, p=participant_id: followup.offer(p, sdp),
                lambda sdp, p=participant_id: followup.answer(p, sdp),
                colour=colour,
            )
            peers[("consult-a", participant_id)] = peer
            await peer.connect()
        resident, doctor = peers[("consult-a", "resident")], peers[("consult-a", "doctor")]
        await eventually(
            lambda: resident.got("doctor").video_frames >= 10 and doctor.got("resident").video_frames >= 10,
            what="resident and doctor decoding each other through the worker",
        )
        assert doctor.got("resident").colours == {"red"} and resident.got("doctor").colours == {"blue"}
        await eventually(lambda: doctor.got("resident").audio_frames >= 10, what="audio through the worker")
        stats = await followup.stats()
        assert stats["peer_connections"] == 2 and stats["forwarded_tracks"] == 4

        # Errors come back with their codes; the call goes on.
        with pytest.raises(InvalidSdp):
            await followup.offer("doctor", "v=0\r\nnonsense")
        with pytest.raises(UnknownParticipant):
            await referral.offer("nobody", resident.pc.localDescription.sdp)
        frames = doctor.got("resident").video_frames
        await eventually(
            lambda: doctor.got("resident").video_frames > frames + 10, what="frames after errors"
        )

        # Hanging up closes everything of the participant in the worker.
        await resident.close()
        await followup.leave("resident")
        stats = await followup.stats()
        assert (
            stats["peer_connections"] == 1 and stats["participants"] == 1 and stats["forwarded_tracks"] == 0
        )
        await doctor.close()
        await followup.leave("doctor")
        with pytest.raises(UnknownParticipant):  # the room closed with its last participant
            await followup.stats()
        await referral.close()
    finally:
        for peer in peers.values():
            await peer.close()
        await pool.close()
    assert not [pid for pid in pids if alive(pid)], "worker processes outlived the pool"
    assert pool.worker_pids == []


async def test_a_worker_keeps_its_start_up_objects_out_of_full_collections() -> None:
    # Full collections stall every stream of a worker; what it imported at start-up is not walked by them.
    pool = MediaPool(MediaSettings(host_addresses=("127.0.0.1",), workers=1))
    await pool.start()
    client = WorkerClient(pool.endpoints()[0][1], pool.rpc_token)
    try:
        await client.connect()
        stats = await client.call("stats")
        assert stats["gc_frozen"] > 50_000 and stats["rooms"] == 0
    finally:
        await client.close()
        await pool.close()
