"""Server offers keep the payload types and header extension ids the browser chose (see media/negotiation.py)."""

from __future__ import annotations

import re

from aiortc import RTCPeerConnection
from aiortc.sdp import SessionDescription

from media.ice import prepare_gathering
from media.negotiation import PayloadMap, align_offer
from tests.media.conftest import Call
from tests.media.peers import eventually


def browser_numbers(sdp: str) -> str:
    """An aiortc offer renumbered as Chrome numbers it: opus 111, VP8 120 (RTX 121), other extension ids."""
    renumber = {"96": "111", "97": "120", "98": "121"}  # opus, VP8, VP8's RTX

    def payload_types(line: re.Match[str]) -> str:
        return re.sub(r"\b(96|97|98)\b", lambda m: renumber[m.group(1)], line.group(0))

    sdp = re.sub(r"^(m=(audio|video) .*|a=(rtpmap|fmtp|rtcp-fb):.*)$", payload_types, sdp, flags=re.MULTILINE)
    sdp = sdp.replace(
        "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid", "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid"
    )
    sdp = sdp.replace(
        "a=extmap:2 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    )
    return sdp.replace("a=extmap:3 http://www.webrtc.org/", "a=extmap:2 http://www.webrtc.org/")


def numbers_of(sdp: str, mid: str) -> tuple[dict[str, int], dict[str, int]]:
    """(codec name -> payload type, extension uri -> id) of one media section."""
    media = next(m for m in SessionDescription.parse(sdp).media if m.rtp.muxId == mid)
    codecs = {c.mimeType.split("/")[1].lower(): c.payloadType for c in media.rtp.codecs}
    return codecs, {e.uri.rsplit("/", 1)[-1].rsplit(":", 1)[-1]: e.id for e in media.rtp.headerExtensions}


async def test_a_reoffer_keeps_the_browsers_numbers(call: Call) -> None:
    alice = await call.join("alice", colour="red")
    # Bob's "browser" numbers its codecs and extensions its own way.
    bob_peer = await call.join("bob", colour="blue")
    await bob_peer.close()
    call.peers.pop("bob")
    await call.room.leave("bob")

    from tests.media.peers import ClientPeer

    bob = ClientPeer(
        "bob",
        lambda sdp: call.room.offer("bob", browser_numbers(sdp)),
        lambda sdp: call.room.answer("bob", sdp),
        colour="blue",
    )
    call.peers["bob"] = bob
    await call.room.join("bob", "user-bob", "doctor")
    await bob.connect()
    await eventually(lambda: alice.got("bob").video_frames >= 5 and bob.got("alice").video_frames >= 5)
    offer = next(payload["sdp"] for name, payload in reversed(bob.events) if name == "offer")
    video_mid, audio_mid = "0", "1"
    for mid, codec in ((video_mid, "vp8"), (audio_mid, "opus")):
        codecs, extensions = numbers_of(offer, mid)
        assert codecs[codec] == {"vp8": 120, "opus": 111}[codec]
        assert extensions["mid"] == 4
    # Bob's own tracks of alice are numbered the same way: one codec, one number, in the whole bundle.
    for mid, track in bob.tracks.items():
        codecs, extensions = numbers_of(offer, mid)
        assert codecs[{"video": "vp8", "audio": "opus"}[track["kind"]]] == (
            120 if track["kind"] == "video" else 111
        )
        assert extensions["mid"] == 4

    # A third participant: bob's next offer still has his numbers, and his video still reaches everyone.
    carol = await call.join("carol", colour="green")
    await eventually(
        lambda: len([n for n, _ in bob.events if n == "offer"]) >= 2 and bob.offers_answered >= 2
    )
    offer = next(payload["sdp"] for name, payload in reversed(bob.events) if name == "offer")
    assert numbers_of(offer, video_mid)[0]["vp8"] == 120 and numbers_of(offer, audio_mid)[0]["opus"] == 111
    await eventually(lambda: carol.got("bob").video_frames >= 10 and bob.got("carol").video_frames >= 10)
    assert carol.got("bob").colours == {"blue"}


async def test_codecs_the_client_never_named_avoid_its_numbers() -> None:
    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="sendonly")
    pc.addTransceiver("video", direction="sendonly")
    prepare_gathering(pc, ("127.0.0.1",))
    await pc.setLocalDescription(await pc.createOffer())
    offer = pc.localDescription.sdp
    # The client used 97 and 98 for opus and something else: aiortc's VP8 (97) and RTX (98) must move.
    numbers = PayloadMap(payload_types={("audio/opus", 48000, 2, ()): 97}, rtx={}, extensions={"urn:x": 1})
    aligned = align_offer(offer, numbers)
    description = SessionDescription.parse(aligned)
    owners: dict[int, str] = {}
    for media in description.media:
        for codec in media.rtp.codecs:
            name = codec.mimeType.lower() + (
                f" apt={codec.parameters['apt']}" if "apt" in codec.parameters else ""
            )
            assert owners.setdefault(codec.payloadType, name) == name, (
                f"payload type {codec.payloadType} reused"
            )
        assert media.fmt == [c.payloadType for c in media.rtp.codecs]
    audio, video = description.media
    assert [c.payloadType for c in audio.rtp.codecs if c.mimeType.lower() == "audio/opus"] == [97]
    vp8 = next(c for c in video.rtp.codecs if c.mimeType.lower() == "video/vp8")
    assert vp8.payloadType != 97
    rtx = next(c for c in video.rtp.codecs if c.parameters.get("apt") == vp8.payloadType)
    assert rtx.payloadType not in (97, vp8.payloadType)
    ids = [e.id for m in description.media for e in m.rtp.headerExtensions]
    assert 1 not in ids  # taken by the client's extension
    await pc.close()
