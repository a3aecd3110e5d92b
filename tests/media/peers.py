"""Test participants: real aiortc peers on loopback that publish a coloured picture and tone, and record what
they decode from the others, as a browser tab would.

Each `ClientPeer` holds one peer connection to the server (the room under test, in this process or behind
a worker); it offers first (its camera and microphone), answers the server's offers, and counts, per
publishing participant, the video frames it decoded (with their size and colour) and the audio frames.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import av
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, MediaStreamTrack, VideoStreamTrack

from media import aiortc_internals
from media.ice import create_peer_connection, prepare_gathering

LOOPBACK = ("127.0.0.1",)
WIDTH, HEIGHT = 320, 240

#: Y, U, V of the test colours (what the decoded picture's plane means come back close to).
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (82, 90, 240),
    "blue": (41, 240, 110),
    "green": (145, 54, 34),
}


class ColourTrack(VideoStreamTrack):
    """A camera that films a plain colour (the relay must deliver that colour, at that size)."""

    def __init__(self, colour: str, width: int = WIDTH, height: int = HEIGHT) -> None:
        super().__init__()
        y, u, v = COLOURS[colour]
        self._frame_template = (width, height, y, u, v)

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        width, height, y, u, v = self._frame_template
        frame = av.VideoFrame(width, height, "yuv420p")
        for plane, value in zip(frame.planes, (y, u, v), strict=True):
            plane.update(bytes([value]) * plane.buffer_size)
        frame.pts = pts
        frame.time_base = time_base
        return frame


def plane_means(frame: av.VideoFrame) -> tuple[int, int, int]:
    """Mean Y, U, V of a decoded frame."""
    means = []
    for plane in frame.planes[:3]:
        data = bytes(plane)
        means.append(sum(data) // max(1, len(data)))
    return means[0], means[1], means[2]


def closest_colour(frame: av.VideoFrame) -> str:
    """The test colour nearest to the frame's mean colour."""
    y, u, v = plane_means(frame)
    return min(COLOURS, key=lambda c: sum((a - b) ** 2 for a, b in zip(COLOURS[c], (y, u, v), strict=True)))


@dataclass
class Received:
    """What one participant decoded from one other participant."""

    video_frames: int = 0
    audio_frames: int = 0
    sizes: set[tuple[int, int]] = field(default_factory=set)
    colours: set[str] = field(default_factory=set)
    video_ended: bool = False
    last_video_at: float = 0.0


Signal = Callable[..., Awaitable[Any]]


class ClientPeer:
    """One participant's browser stand-in, connected to a room through `offer`, `answer` and `candidate`.

    `send_offer(sdp) -> answer sdp` and `send_answer(sdp)` are the signalling calls of the room or worker.
    """

    def __init__(
        self,
        participant_id: str,
        send_offer: Callable[[str], Awaitable[str]],
        send_answer: Callable[[str], Awaitable[None]],
        *,
        colour: str | None = "red",
        audio: bool = True,
    ) -> None:
        self.participant_id = participant_id
        self._send_offer = send_offer
        self._send_answer = send_answer
        self.pc: RTCPeerConnection = create_peer_connection()
        self.colour = colour
        self.audio = audio
        self.keyframe_requests = 0
        self.tracks: dict[str, dict[str, Any]] = {}
        self.participants: dict[str, dict[str, Any]] = {}
        self.received: dict[str, Received] = {}
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.offers_answered = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._sources: list[MediaStreamTrack] = []
        # Signalling is applied in arrival order, as a browser's operations chain does.
        self._signalling = asyncio.Lock()
        self.pc.on("track", self._on_track)

    async def connect(self) -> None:
        """Publish: offer the camera and microphone, apply the server's answer."""
        if self.colour is not None:
            video = ColourTrack(self.colour)
            self._sources.append(video)
            sender = self.pc.addTransceiver(video, direction="sendonly").sender
            aiortc_internals.observe_keyframe_requests(sender, self._count_keyframe_request)
        if self.audio:
            audio = AudioStreamTrack()
            self._sources.append(audio)
            self.pc.addTransceiver(audio, direction="sendonly")
        async with self._signalling:
            prepare_gathering(self.pc, LOOPBACK)
            await self.pc.setLocalDescription(await self.pc.createOffer())
            answer = await self._send_offer(self.pc.localDescription.sdp)
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    def _count_keyframe_request(self) -> None:
        self.keyframe_requests += 1

    def on_event(self, name: str, payload: dict[str, Any]) -> None:
        """An event the server sent this participant (offers are answered in an owned task)."""
        self.events.append((name, payload))
        if name == "offer":
            self._spawn(self._answer(payload))

    async def _answer(self, payload: dict[str, Any]) -> None:
        async with self._signalling:
            self.tracks.update(payload["tracks"])
            self.participants = payload["participants"]
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=payload["sdp"], type="offer"))
            prepare_gathering(self.pc, LOOPBACK)
            await self.pc.setLocalDescription(await self.pc.createAnswer())
            await self._send_answer(self.pc.localDescription.sdp)
            self.offers_answered += 1

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_track(self, track: MediaStreamTrack) -> None:
        mid = next(t.mid for t in self.pc.getTransceivers() if t.receiver.track is track)
        self._spawn(self._consume(mid, track))

    def _publisher(self, mid: str) -> str:
        return str(self.tracks.get(mid, {}).get("participant_id", f"mid:{mid}"))

    async def _consume(self, mid: str, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                if track.kind == "video":
                    self.received.setdefault(self._publisher(mid), Received()).video_ended = True
                return
            received = self.received.setdefault(self._publisher(mid), Received())
            if isinstance(frame, av.VideoFrame):
                received.video_frames += 1
                received.last_video_at = time.monotonic()
                received.sizes.add((frame.width, frame.height))
                if received.video_frames % 10 == 1:
                    received.colours.add(closest_colour(frame))
            else:
                received.audio_frames += 1

    def got(self, publisher: str) -> Received:
        """What this participant decoded from `publisher` so far."""
        return self.received.get(publisher, Received())

    async def close(self) -> None:
        """Hang up: close the connection and every task of this peer."""
        for source in self._sources:
            source.stop()
        await self.pc.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def eventually(
    check: Callable[[], bool], *, within_s: float = 10.0, interval: float = 0.05, what: str = "condition"
) -> None:
    """Wait until `check()` holds, failing with `what` after `within_s` seconds."""
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within_s} s waiting for {what}")
        await asyncio.sleep(interval)
