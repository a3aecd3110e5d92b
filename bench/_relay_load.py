"""The relay benchmark's load generator, run in its own process by bench/relay.py.

Each *stream* is one publisher peer that sends pre-encoded 640x480 VP8 at 30 fps and one subscriber peer that
receives it through the relay under test, each with its own peer connection, in a consult room of their own.
The generator must cost much less than the relay, or on a 2-core machine it, not the relay, is what runs
out of CPU. So the publisher replays frames packetized once at start (jumping to the keyframe when the relay
asks for one, as a browser would) through an `RtpWriter` (media/aiortc_internals.py): no encoding, no
re-packetizing, no task per stream; one `Ticker` task sends every publisher's frames, spread over the frame
interval. The subscriber takes its packets in the socket's callback (`relay_receiver`) and counts whole
frames with Jiayi's frame assembler (released on the marker packet; only a frame's first packet is
depayloaded, to see a keyframe): nothing is decoded.

Latency: the publisher stamps each frame's RTP timestamp with a small irregular offset and logs its send
time; the subscriber learns which frame it received first by matching the irregular gaps of its first
frames, then reads each frame's send time from the log (both peers share this process's clock). Both relays
keep the publisher's timestamp gaps (Jiayi forwards them, MediaRelay carries them through decode and encode).
A frame has arrived when the kernel queued its last packet (the marker) on the subscriber's socket: its
receive timestamp (``SIOCGSTAMP``, read right after that datagram was read) is compared with the send time
(both ``CLOCK_REALTIME``). So the latency is what the relay and the network stack add, not how long this
generator, busy sending other streams' frames, took to get round to reading the socket; that later time is
kept too (``as_read``) and printed beside it. Frames completed by a retransmission use the time read.

Commands arrive on a multiprocessing pipe: ``("add", url, token, count)``, ``("measure", seconds)``,
``("clear",)``, ``("stop",)``; each gets one reply.
"""

from __future__ import annotations

import asyncio
import fcntl
import fractions
import heapq
import os
import random
import struct
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
from aiortc import RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.codecs.vpx import Vp8Encoder  # noqa: E402
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack  # noqa: E402

from media import aiortc_internals, eventloop  # noqa: E402
from media.client import WorkerClient  # noqa: E402
from media.forwarding import (  # noqa: E402
    CodecInfo,
    EncodedFrame,
    FrameAssembler,
    KeyframeRequester,
    NackTracker,
)
from media.gc_pauses import GcPauses  # noqa: E402
from media.ice import create_peer_connection, prepare_gathering  # noqa: E402

FPS = 30
VP8 = CodecInfo("video", "video/VP8", 90000)
TIME_BASE = fractions.Fraction(1, 90000)
TICKS = os.sysconf("SC_CLK_TCK")
LOOPBACK = ("127.0.0.1",)


#: ioctl: the receive timestamp of the last datagram read from a socket (linux/sockios.h).
SIOCGSTAMP = 0x8906
_TIMEVAL = struct.Struct("@ll")


def kernel_arrival(fd: int) -> float | None:
    """When the kernel queued the last datagram read from socket `fd` (``time.time()``'s clock), or None."""
    try:
        seconds, microseconds = _TIMEVAL.unpack(fcntl.ioctl(fd, SIOCGSTAMP, bytes(_TIMEVAL.size)))
    except OSError:
        return None  # the first call only switches timestamps on
    return seconds + microseconds / 1e6


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


_JITTER_RANDOM = random.Random(20240517)
_JITTER = [_JITTER_RANDOM.randrange(97) for _ in range(1 << 16)]


def jitter(index: int) -> int:
    """A small irregular offset (0..96 ticks of 90 kHz) that makes each frame's timestamp recognisable."""
    return _JITTER[index & 0xFFFF]


def packetize(frames: list[bytes]) -> list[list[bytes]]:
    """Each frame's VP8 RTP payloads, made once: the publishers replay them, nothing is packetized per send."""
    encoder = Vp8Encoder()
    payloads = []
    for index, data in enumerate(frames):
        packet = av.Packet(data)
        packet.pts = index * 3000
        packet.time_base = TIME_BASE
        payloads.append(encoder.pack(packet)[0])
    return payloads


class IdleTrack(MediaStreamTrack):
    """The publisher sender's track: never yields (the `RtpWriter` sends the replayed frames)."""

    kind = "video"

    async def recv(self) -> av.Packet:
        await asyncio.Event().wait()
        raise MediaStreamError


class Replay:
    """A camera that replays pre-packetized frames (frame 0 is a keyframe) at 30 fps through an `RtpWriter`."""

    def __init__(self, frames: list[list[bytes]], sent: dict[int, float]) -> None:
        self._frames = frames
        self._sent = sent
        self.writer: aiortc_internals.RtpWriter | None = None
        self.index = 0
        self._position = 0

    def keyframe(self) -> None:
        self._position = 0

    def send(self) -> None:
        """Send the next frame now (the `Ticker` calls it every 1/30 s)."""
        if self.writer is None:
            return
        pts = self.index * 3000 + jitter(self.index)
        self._sent[pts] = time.time()
        try:
            self.writer.write(self._frames[self._position], pts)
        except ConnectionError:
            return
        self.index += 1
        self._position = (self._position + 1) % len(self._frames)
        if len(self._sent) > 600:
            for old in list(self._sent)[: len(self._sent) - 600]:
                del self._sent[old]


class Ticker:
    """One task that sends every publisher's frames at 30 fps, the publishers spread over the frame interval.

    One timer for all streams (not a task wake-up per stream and frame), and no burst of every stream at once.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Replay]] = []
        self._count = 0
        self._task: asyncio.Task[None] | None = None

    def add(self, replay: Replay) -> None:
        now = time.monotonic()
        phase = (self._count * 0.618034) % 1.0 / FPS  # golden-ratio spread over the interval
        heapq.heappush(self._heap, (now + phase, self._count, replay))
        self._count += 1
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="replay ticker")

    def remove(self, replays: set[Replay]) -> None:
        self._heap = [entry for entry in self._heap if entry[2] not in replays]
        heapq.heapify(self._heap)

    async def _run(self) -> None:
        heap = self._heap
        while True:
            heap = self._heap
            now = time.monotonic()
            while heap and heap[0][0] <= now:
                due, order, replay = heap[0]
                replay.send()
                # An overloaded generator falls behind: never burst to catch up more than a frame.
                heapq.heapreplace(heap, (max(due + 1 / FPS, now - 1 / FPS), order, replay))
            await asyncio.sleep(max(0.0, heap[0][0] - time.monotonic()) if heap else 0.01)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None


class Stream:
    """One publisher and one subscriber through the relay under test."""

    def __init__(self, index: int, client: WorkerClient, frames: list[list[bytes]], ticker: Ticker) -> None:
        self.consult_id = f"bench-{index}"
        self.client = client
        self.sent: dict[int, float] = {}
        self.replay = Replay(frames, self.sent)
        self.track = IdleTrack()
        self._ticker = ticker
        self.publisher = create_peer_connection()
        self.subscriber = create_peer_connection()
        self.frames = 0
        self.latencies: list[float] = []
        self.latencies_as_read: list[float] = []
        self._stamp: float | None = None
        self._received: list[EncodedFrame] = []
        self._offset: int | None = None
        self._signalling = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self.keyframes = KeyframeRequester(self._no_pli, interval_s=0.5)
        self.subscriber.on("track", self._on_track)

    async def _no_pli(self) -> None:
        return None

    async def start(self) -> None:
        await self.client.call(
            "join", consult_id=self.consult_id, participant_id="pub", user_id="p", role="doctor"
        )
        await self.client.call(
            "join", consult_id=self.consult_id, participant_id="sub", user_id="s", role="doctor"
        )
        sender = self.publisher.addTransceiver(self.track, direction="sendonly").sender
        aiortc_internals.on_keyframe_request(sender, self.replay.keyframe)
        aiortc_internals.on_sender_started(sender, self._publish)
        await self._offer(self.publisher, "pub")
        self.subscriber.addTransceiver("video", direction="recvonly")
        await self._offer(self.subscriber, "sub")

    def _publish(self, writer: aiortc_internals.RtpWriter) -> None:
        self.replay.writer = writer
        self._ticker.add(self.replay)

    async def _offer(self, pc: RTCPeerConnection, participant_id: str) -> None:
        async with self._signalling:
            prepare_gathering(pc, LOOPBACK)
            await pc.setLocalDescription(await pc.createOffer())
            result = await self.client.call(
                "offer",
                consult_id=self.consult_id,
                participant_id=participant_id,
                sdp=pc.localDescription.sdp,
            )
            await pc.setRemoteDescription(RTCSessionDescription(sdp=result["sdp"], type="answer"))

    def on_event(self, message: dict[str, Any]) -> None:
        if message.get("event") == "offer" and message.get("participant_id") == "sub":
            task = asyncio.ensure_future(self._answer(message["data"]["sdp"]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _answer(self, sdp: str) -> None:
        async with self._signalling:
            await self.subscriber.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            prepare_gathering(self.subscriber, LOOPBACK)
            await self.subscriber.setLocalDescription(await self.subscriber.createAnswer())
            await self.client.call(
                "answer",
                consult_id=self.consult_id,
                participant_id="sub",
                sdp=self.subscriber.localDescription.sdp,
            )

    def _on_track(self, track: MediaStreamTrack) -> None:
        # As a browser does: frames are counted from a keyframe on, and a missing one is asked for (PLI).
        receiver = next(t.receiver for t in self.subscriber.getTransceivers() if t.receiver.track is track)
        assembler = FrameAssembler(VP8, self._on_frame, lambda: self.keyframes.request(), clock=time.time)
        sockets: list[int] = []

        def add(packet: Any) -> object:
            # A frame is released on its marker packet: note when the kernel received that datagram.
            self._stamp = None
            if packet.marker:
                if not sockets and (sock := aiortc_internals.media_socket(receiver.transport)) is not None:
                    sockets.append(sock.fileno())
                if sockets:
                    self._stamp = kernel_arrival(sockets[0])
            return assembler.add(packet)

        async def send_pli() -> None:
            if assembler.ssrc is not None:
                await aiortc_internals.send_pli(receiver, assembler.ssrc)

        self.keyframes = KeyframeRequester(send_pli, interval_s=0.5)
        # Packets are parsed and counted in the socket's callback; nothing is depayloaded but a frame's head.
        aiortc_internals.relay_receiver(receiver, add, NackTracker())

    def _on_frame(self, frame: EncodedFrame) -> None:
        self.frames += 1
        read = frame.arrival
        if self._stamp is not None:
            frame.arrival = self._stamp
        if self._offset is None:
            self._received.append(frame)
            if len(self._received) >= 6:
                self._match()
            return
        sent = self.sent.get(frame.timestamp + self._offset)
        if sent is not None:
            self.latencies.append(frame.arrival - sent)
            self.latencies_as_read.append(read - sent)

    def _match(self) -> None:
        first = self._received[0].timestamp
        gaps = [f.timestamp - first for f in self._received[1:]]
        for pts in reversed(list(self.sent)):  # the most recent match: a relay delays by milliseconds
            if all(pts + gap in self.sent for gap in gaps):
                self._offset = pts - first
                for frame in self._received:
                    self.latencies.append(frame.arrival - self.sent[frame.timestamp + self._offset])
                return
        self._received.pop(0)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.track.stop()
        self.replay.writer = None
        await self.keyframes.close()
        await self.publisher.close()
        await self.subscriber.close()
        try:
            await self.client.call("close", consult_id=self.consult_id)
        except Exception:
            pass


class Generator:
    def __init__(self, conn: Connection, frames: list[bytes], first_index: int) -> None:
        self.conn = conn
        self.frames = packetize(frames)
        self.ticker = Ticker()
        self.streams: list[Stream] = []
        self.clients: dict[str, WorkerClient] = {}
        self.next_index = first_index
        self.gc_pauses = GcPauses()

    def _route(self, message: dict[str, Any]) -> None:
        consult_id = message.get("consult_id")
        for stream in self.streams:
            if stream.consult_id == consult_id:
                stream.on_event(message)

    async def _client(self, url: str, token: str) -> WorkerClient:
        client = self.clients.get(url)
        if client is None:
            client = self.clients[url] = WorkerClient(url, token, on_event=self._route, call_timeout_s=60)
            await client.connect()
        return client

    async def add(self, url: str, token: str, count: int) -> dict[str, Any]:
        client = await self._client(url, token)
        new = []
        for _ in range(count):
            new.append(Stream(self.next_index, client, self.frames, self.ticker))
            self.next_index += 1
        self.streams.extend(new)
        failures = 0
        for batch in range(0, len(new), 10):
            results = await asyncio.gather(
                *(s.start() for s in new[batch : batch + 10]), return_exceptions=True
            )
            failures += sum(1 for r in results if isinstance(r, BaseException))
        return {"streams": len(self.streams), "failures": failures}

    async def measure(self, seconds: float) -> dict[str, Any]:
        for stream in self.streams:
            stream.frames = 0
            stream.latencies = []
            stream.latencies_as_read = []
        sent_before = [s.replay.index for s in self.streams]
        server_before = await self._server_stats()
        gc_before = self.gc_pauses.counters()
        cpu_before, start = cpu_seconds(os.getpid()), time.monotonic()
        lags: list[float] = []
        while time.monotonic() - start < seconds:
            before = time.monotonic()
            await asyncio.sleep(0.01)
            lags.append(time.monotonic() - before - 0.01)
        elapsed = time.monotonic() - start
        cpu = (cpu_seconds(os.getpid()) - cpu_before) / elapsed
        server = await self._server_stats()
        gc_after = self.gc_pauses.counters()
        return {
            "elapsed": elapsed,
            "fps": [s.frames / elapsed for s in self.streams],
            "sent_fps": [
                (s.replay.index - b) / elapsed for s, b in zip(self.streams, sent_before, strict=True)
            ],
            "latencies_ms": [round(v * 1000, 3) for s in self.streams for v in s.latencies],
            "latencies_as_read_ms": [round(v * 1000, 3) for s in self.streams for v in s.latencies_as_read],
            "cpu": cpu,
            "server": server,
            # Full garbage collections during the window (each stalls every stream of its process), in the
            # relay's worker(s) and in this generator: (count, total ms).
            "server_gc_full": _gc_delta(server_before, server),
            "generator_gc_full": _gc_delta(gc_before, gc_after),
            "server_gc_young": _gc_delta(server_before, server, "young"),
            "loop_lag_max_ms": round(max(lags, default=0) * 1000, 1),
        }

    async def _server_stats(self) -> dict[str, Any]:
        totals: dict[str, Any] = {}
        for client in self.clients.values():
            try:
                stats = await client.call("stats")
            except Exception:
                continue
            for key, value in (stats or {}).items():
                totals[key] = totals.get(key, 0) + value
        return totals

    async def clear(self) -> dict[str, Any]:
        streams, self.streams = self.streams, []
        self.ticker.remove({s.replay for s in streams})
        for batch in range(0, len(streams), 20):
            await asyncio.gather(*(s.close() for s in streams[batch : batch + 20]), return_exceptions=True)
        for client in self.clients.values():
            await client.close()
        self.clients.clear()
        return {"streams": 0}

    async def run(self) -> None:
        self.gc_pauses.install()
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, self.conn.recv)
            name = command[0]
            if name == "add":
                reply = await self.add(*command[1:])
            elif name == "measure":
                reply = await self.measure(*command[1:])
            elif name == "clear":
                reply = await self.clear()
            else:
                await self.clear()
                await self.ticker.close()
                self.conn.send({"stopped": True})
                return
            self.conn.send(reply)


def _gc_delta(before: dict[str, Any], after: dict[str, Any], kind: str = "full") -> tuple[int, float]:
    """Collections (``full`` or ``young``) and their milliseconds between two `GcPauses.counters()`."""
    return (
        int(after.get(f"gc_{kind}_collections", 0) - before.get(f"gc_{kind}_collections", 0)),
        round(after.get(f"gc_{kind}_ms_total", 0.0) - before.get(f"gc_{kind}_ms_total", 0.0), 1),
    )


def generator_main(conn: Connection, frames: list[bytes], first_index: int) -> None:
    """Entry point of a generator process."""
    # The media worker's loop (media/eventloop.py): the subscribers' sockets are read by the same compiled
    # readers as the relay's, inside its selector's select, so the generator needs less of the machine.
    with asyncio.Runner(loop_factory=eventloop.new_event_loop) as runner:
        runner.run(Generator(conn, frames, first_index).run())
