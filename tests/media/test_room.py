"""A consult's media room with real aiortc participants on loopback: what each participant sees and hears."""

from __future__ import annotations

import asyncio
import re
import socket
from typing import Any

import pytest
from aiortc import RTCSessionDescription

from media.aiortc_internals import rtp_link
from media.errors import InvalidSdp, InvalidState, NegotiationCollision, UnknownParticipant
from tests.media.conftest import Call
from tests.media.peers import HEIGHT, WIDTH, ClientPeer, eventually


async def frames_keep_coming(
    peer: ClientPeer, publisher: str, *, video: bool = True, count: int = 10
) -> None:
    """`peer` decodes `count` more frames of `publisher` (video or audio)."""
    received = peer.got(publisher)
    start = received.video_frames if video else received.audio_frames

    def more() -> bool:
        now = peer.got(publisher)
        return (now.video_frames if video else now.audio_frames) >= start + count

    await eventually(more, what=f"{peer.participant_id} decoding {count} more {publisher} frames")


def mids_of(peer: ClientPeer, publisher: str) -> list[str]:
    return [mid for mid, track in peer.tracks.items() if track["participant_id"] == publisher]


async def test_two_participants_see_and_hear_each_other(call: Call) -> None:
    alice = await call.join("alice", colour="red")
    bob = await call.join("bob", colour="blue")

    await eventually(
        lambda: alice.got("bob").video_frames >= 20 and bob.got("alice").video_frames >= 20,
        what="20 decoded frames each way",
    )
    await eventually(
        lambda: alice.got("bob").audio_frames >= 20 and bob.got("alice").audio_frames >= 20, what="audio"
    )
    assert bob.got("alice").colours == {"red"}
    assert alice.got("bob").colours == {"blue"}
    assert bob.got("alice").sizes == {(WIDTH, HEIGHT)}
    # The offer told each one whose tracks they are: one audio and one video track of the other.
    assert sorted(t["kind"] for t in bob.tracks.values() if t["participant_id"] == "alice") == [
        "audio",
        "video",
    ]
    assert bob.participants["alice"] == {
        "user_id": "user-alice",
        "role": "doctor",
        "audio": True,
        "video": True,
    }
    stats = call.room.stats()
    assert stats.peer_connections == 2 and stats.forwarded_tracks == 4


async def test_a_late_joiner_gets_a_keyframe_from_the_publisher(call: Call) -> None:
    # aiortc's VP8 encoder makes a keyframe at the start and then only when asked (gop 3000):
    # bob can decode alice only if his joining made the relay ask alice for one.
    alice = await call.join("alice", colour="red")
    await asyncio.sleep(1.0)
    requests_before = alice.keyframe_requests
    bob = await call.join("bob", colour="blue")
    await eventually(lambda: bob.got("alice").video_frames >= 5, within_s=5, what="bob decoding alice")
    assert bob.got("alice").colours == {"red"}
    assert alice.keyframe_requests > requests_before
    publication = call.room.publication("alice", "video")
    assert publication is not None and publication.keyframes.sent >= 1


async def test_third_participant_joins_then_leaves(call: Call) -> None:
    alice = await call.join("alice", colour="red")
    bob = await call.join("bob", colour="blue")
    await eventually(lambda: bob.got("alice").video_frames >= 5 and alice.got("bob").video_frames >= 5)

    carol = await call.join("carol", colour="green")
    await eventually(
        lambda: (
            all(p.got("carol").video_frames >= 10 for p in (alice, bob))
            and carol.got("alice").video_frames >= 10
            and carol.got("bob").video_frames >= 10
        ),
        what="everyone decoding carol, and carol decoding everyone",
    )
    assert alice.got("carol").colours == {"green"} and carol.got("bob").colours == {"blue"}
    await eventually(lambda: alice.got("carol").audio_frames >= 10 and carol.got("alice").audio_frames >= 10)
    assert call.room.stats().forwarded_tracks == 12

    carol_mids = mids_of(alice, "carol")
    await call.hang_up("carol")
    # Alice's transceivers for carol go inactive and carol's picture stops; alice and bob go on.
    await eventually(
        lambda: all(
            t.currentDirection == "inactive" for t in alice.pc.getTransceivers() if t.mid in carol_mids
        ),
        what="carol's transceivers inactive at alice",
    )
    frames = alice.got("carol").video_frames
    await frames_keep_coming(alice, "bob")
    await frames_keep_coming(bob, "alice")
    assert alice.got("carol").video_frames == frames
    assert ("left", {"participant_id": "carol"}) in alice.events
    assert call.room.stats().forwarded_tracks == 4

    # The next participant reuses those transceivers: alice's connection does not grow.
    transceivers = len(alice.pc.getTransceivers())
    await call.join("dave", colour="green")
    await eventually(lambda: alice.got("dave").video_frames >= 5, what="alice decoding dave")
    assert len(alice.pc.getTransceivers()) == transceivers
    assert sorted(mids_of(alice, "dave")) == sorted(carol_mids)


async def test_audio_only(call: Call) -> None:
    alice = await call.join("alice", colour="red")
    bob = await call.join("bob", colour="blue")
    await eventually(lambda: bob.got("alice").video_frames >= 5 and alice.got("bob").video_frames >= 5)

    # Alice turns her camera off: bob is told, gets no more of her picture, still hears her.
    await call.room.set_media("alice", video=False)
    # (Another event, such as a connection state, may come in between: look at the last media event.)
    assert [event for event in bob.events if event[0] == "media"][-1] == (
        "media",
        {"participant_id": "alice", "user_id": "user-alice", "role": "doctor", "audio": True, "video": False},
    )
    await asyncio.sleep(0.2)
    frames = bob.got("alice").video_frames
    await frames_keep_coming(bob, "alice", video=False, count=25)
    assert bob.got("alice").video_frames == frames
    await frames_keep_coming(alice, "bob")

    # Bob's network is weak: he asks for audio only and keeps hearing alice.
    await call.room.set_media("bob", receive_video=False)
    await asyncio.sleep(0.2)
    from_bob = alice.got("bob").video_frames
    await frames_keep_coming(bob, "alice", video=False, count=25)
    await frames_keep_coming(alice, "bob", video=False, count=25)
    assert alice.got("bob").video_frames > from_bob  # only what bob receives changed

    # Alice's camera comes back: bob sees her again once he wants video.
    await call.room.set_media("alice", video=True)
    await call.room.set_media("bob", receive_video=True)
    await frames_keep_coming(bob, "alice", count=10)
    assert bob.got("alice").colours == {"red"}


async def test_bad_requests_are_refused_and_the_call_goes_on(call: Call) -> None:
    alice = await call.join("alice", colour="red")
    bob = await call.join("bob", colour="blue")
    await eventually(lambda: bob.got("alice").video_frames >= 5 and alice.got("bob").video_frames >= 5)
    await call.room.join("mallory", "user-mallory", "specialist")

    with pytest.raises(InvalidSdp, match="not SDP"):
        await call.room.offer("mallory", "hello")
    with pytest.raises(InvalidSdp, match="could not be parsed"):
        await call.room.offer("mallory", "v=0\r\nm=video x\r\n")
    with pytest.raises(InvalidSdp, match="no audio or video"):
        await call.room.offer("mallory", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n")
    truncated = alice.pc.localDescription.sdp
    truncated = re.sub(r"a=ice-pwd:.*\r\n", "", truncated)
    with pytest.raises(InvalidSdp, match="ICE"):
        await call.room.offer("mallory", truncated)
    with pytest.raises(InvalidSdp, match="larger than"):
        await call.room.offer("mallory", "v=0\r\n" + "a=x\r\n" * 20000)
    with pytest.raises(UnknownParticipant):
        await call.room.offer("nobody", alice.pc.localDescription.sdp)
    with pytest.raises(InvalidState):
        await call.room.answer("mallory", alice.pc.localDescription.sdp)
    # Nothing was left behind for mallory, and alice and bob never noticed.
    assert call.room.stats().peer_connections == 2
    await frames_keep_coming(bob, "alice")
    await frames_keep_coming(alice, "bob")


async def test_garbage_datagrams_do_not_disturb_the_call(call: Call) -> None:
    alice = await call.join("alice", colour="red")
    bob = await call.join("bob", colour="blue")
    await eventually(lambda: bob.got("alice").video_frames >= 5)
    assert alice.pc.remoteDescription is not None
    ports = {
        int(p)
        for p in re.findall(r"a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 (\d+)", alice.pc.remoteDescription.sdp)
    }
    assert ports
    junk = [
        b"\x80\x60" + bytes(200),  # looks like RTP, fails SRTP authentication
        b"\x81\xc9" + bytes(30),  # looks like RTCP
        b"\x16\xfe\xfd" + bytes(50),  # looks like DTLS
        b"\x00\x01\x00\x00" + bytes(16),  # looks like STUN
        bytes(range(256)) * 4,
    ]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _ in range(50):
            for payload in junk:
                for port in ports:
                    sock.sendto(payload, ("127.0.0.1", port))
            await asyncio.sleep(0.005)
    await frames_keep_coming(bob, "alice", count=15)
    await frames_keep_coming(alice, "bob", count=15)


async def test_glare_the_client_rolls_back(call: Call) -> None:
    alice = await call.join("alice", colour="red")
    alice_answers = alice.offers_answered
    # Hold alice's answers back, so the server's offer for bob's tracks stays pending.
    held: list[dict[str, object]] = []
    alice.on_event = lambda name, payload: held.append(payload) if name == "offer" else None  # type: ignore[method-assign]
    await call.join("bob", colour="blue")
    await eventually(lambda: bool(held), what="the server's offer to alice")

    # Alice offers at the same time (say, she switched camera): the server refuses, it is impolite.
    with pytest.raises(NegotiationCollision):
        await call.room.offer("alice", alice.pc.localDescription.sdp)
    # Alice is polite: (an aiortc peer has nothing to roll back here) she answers the server's offer...
    await alice._answer(held[0])  # type: ignore[arg-type]
    assert alice.offers_answered == alice_answers + 1
    await eventually(lambda: alice.got("bob").video_frames >= 5, what="alice decoding bob")
    # ...then offers again, and the server answers.
    await alice.pc.setLocalDescription(await alice.pc.createOffer())
    answer = await call.room.offer("alice", alice.pc.localDescription.sdp)
    await alice.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    await frames_keep_coming(alice, "bob")


async def test_a_reconnecting_participant_keeps_their_tiles(call: Call) -> None:
    alice = await call.join("alice", colour="red")
    bob = await call.join("bob", colour="blue")
    await eventually(lambda: bob.got("alice").video_frames >= 5)
    offers_to_bob = sum(1 for name, _ in bob.events if name == "offer")
    bob_mids = mids_of(bob, "alice")

    # Alice's network drops; her new tab joins again with a new connection and a new camera colour.
    await alice.close()
    call.peers.pop("alice")
    new_alice = await call.join("alice", colour="green")
    await eventually(lambda: "green" in bob.got("alice").colours, what="bob seeing alice's new connection")
    await eventually(lambda: new_alice.got("bob").video_frames >= 5, what="alice seeing bob again")
    # Bob's tiles for alice are the same transceivers; his connection needed no new offer for her.
    assert mids_of(bob, "alice") == bob_mids
    assert sum(1 for name, _ in bob.events if name == "offer") == offers_to_bob
    assert call.room.stats().peer_connections == 2


async def test_the_server_offers_a_newcomer_the_others_only_once_connected(call: Call) -> None:
    """aiortc renumbers a connection's payload types if it offers before DTLS is up: a browser numbering
    its codecs otherwise (Chrome: opus 111) was then neither heard nor seen. Offers wait for the link."""
    await call.join("alice", colour="red")
    carol = await call.join("carol", colour="green")
    await eventually(lambda: any(name == "offer" for name, _ in carol.events), what="carol's first offer")
    names = [(name, payload.get("state")) for name, payload in carol.events]
    first_offer = next(i for i, (name, _) in enumerate(names) if name == "offer")
    assert ("connection", "connected") in names[:first_offer], names


async def test_rtcp_reports_go_both_ways_and_give_the_round_trip_time(call: Call) -> None:
    # Each second or so every peer sends SR + SDES for what it sends and RR for what it receives: the
    # server's (aiortc's, sent by the fast path's link) are read by the participant's aiortc, the
    # participant's are read in C (fastpath.RtcpReports). getStats on both sides shows what came of them.
    alice = await call.join("alice", colour="red")
    await call.join("bob", colour="blue")
    server_pc = call.room._participants["alice"].pc
    assert server_pc is not None
    latest: dict[str, dict[str, list[Any]]] = {"server": {}, "alice": {}}

    async def poll() -> None:
        while True:
            for side, pc in (("server", server_pc), ("alice", alice.pc)):
                kinds: dict[str, list[Any]] = {}
                for stats in (await pc.getStats()).values():
                    kinds.setdefault(stats.type, []).append(stats)
                latest[side] = kinds
            await asyncio.sleep(0.2)

    def reports_with_rtt(side: str) -> bool:
        kinds = latest[side]
        inbound = kinds.get("remote-inbound-rtp", [])
        return (
            len(kinds.get("remote-outbound-rtp", [])) == 2
            and len(inbound) == 2
            and all(s.roundTripTime is not None for s in inbound)
        )

    poller = asyncio.get_running_loop().create_task(poll())
    try:
        # Alice's two tracks reach the server with her SRs, the server's RRs about them come back to her
        # (her round-trip time); bob's two reach her with the server's SRs, her RRs go back (the server's).
        await eventually(lambda: reports_with_rtt("server") and reports_with_rtt("alice"), what="reports")
    finally:
        poller.cancel()
    for side in ("server", "alice"):
        for stats in latest[side]["remote-inbound-rtp"]:
            assert 0 <= stats.roundTripTime < 0.5
            assert stats.packetsReceived > 0 and stats.packetsLost == 0
        for stats in latest[side]["remote-outbound-rtp"]:
            assert stats.packetsSent > 0 and stats.bytesSent > 0
    # ...the participant's by the compiled path.
    transceivers = server_pc.getTransceivers()
    assert all(rtp_link(dtls).on_rtcp.handled > 0 for dtls in {t.receiver.transport for t in transceivers})
    # The server's receivers of alice's audio and video know her sources (aiortc's getSynchronizationSources).
    receivers = [t.receiver for t in transceivers if t.receiver._RTCRtpReceiver__started]
    assert sorted(len(r.getSynchronizationSources()) for r in receivers) == [1, 1]
