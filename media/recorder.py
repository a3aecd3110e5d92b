"""Recording one participant's track without transcoding: encoded frames into short WebM segments.

A `TrackRecorder` taps a `Publication` (media/forwarding.py): it gets the same encoded frames the relay
forwards and muxes them with PyAV, untouched, into a container per segment: WebM for VP8 and Opus,
Matroska for H.264 (WebM has no H.264). A segment ends at the first keyframe after `segment_s` seconds
(keyframes are requested from shortly before, so segments stay close to that length), when recording
pauses, and when the track ends; each segment is a whole, playable file, so a worker that dies loses
at most the segment it was writing.

Time: each segment records where it starts, in milliseconds from the recording's start
(`Segment.start_ms`, from the arrival time of its first frame), and its packets carry the RTP
timestamps counted from that first frame. A participant's audio and video segments are placed on the
same clock, so a player that starts each segment at its `start_ms` keeps them in sync (within the
network's jitter, a few tens of milliseconds), also for someone who joined mid-call:
tests/media/test_av_sync.py records a late joiner's flashes and beeps through a worker and finds them
under 10 ms apart on loopback (the bound is 100 ms).

What happens to a segment (sealing it with the recording's key, writing it to the blob store) is the
caller's `on_segment`; the recorder only muxes, on the event loop: a frame costs one `mux` call.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from media.forwarding import CodecInfo, EncodedFrame, Publication
from storage.blobstore import new_blob_id, write_sealed

logger = logging.getLogger(__name__)

#: The container and PyAV codec name per forwarded codec.
FORMATS = {
    "video/vp8": ("webm", "libvpx", "video/webm"),
    "audio/opus": ("webm", "libopus", "audio/webm"),
    "video/h264": ("matroska", "libx264", "video/x-matroska"),
}


#: How long before a segment's end a keyframe is asked for (about one round trip and a frame).
KEYFRAME_LEAD_S = 0.3


@dataclass(frozen=True)
class Segment:
    """One finished piece of a track: a whole container file."""

    seq: int
    data: bytes
    content_type: str
    #: Milliseconds from the recording's start to this segment's first frame.
    start_ms: int
    duration_ms: int
    frames: int


def vp8_size(keyframe: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 keyframe's header (RFC 6386 §9.1), or None if it is not one."""
    if len(keyframe) < 10 or keyframe[0] & 1 or keyframe[3:6] != b"\x9d\x01\x2a":
        return None
    width = int.from_bytes(keyframe[6:8], "little") & 0x3FFF
    height = int.from_bytes(keyframe[8:10], "little") & 0x3FFF
    return width, height


class _Open:
    """The segment being written."""

    def __init__(self, codec: CodecInfo, frame: EncodedFrame, start_ms: int) -> None:
        container_format, codec_name, self.content_type = FORMATS[codec.mime_type.lower()]
        self.buffer = io.BytesIO()
        self.container = av.open(self.buffer, mode="w", format=container_format)
        self.stream: av.VideoStream | av.AudioStream
        if codec.kind == "audio":
            audio = self.container.add_stream(codec_name, rate=codec.clock_rate)
            assert isinstance(audio, av.AudioStream)
            audio.codec_context.layout = "stereo" if (codec.channels or 2) == 2 else "mono"
            self.stream = audio
        else:
            video = self.container.add_stream(codec_name, rate=30)
            assert isinstance(video, av.VideoStream)
            size = vp8_size(frame.data) if codec.mime_type.lower() == "video/vp8" else None
            video.width, video.height = size or (640, 480)
            video.pix_fmt = "yuv420p"
            self.stream = video
        self.stream.time_base = codec.time_base
        self.time_base = codec.time_base
        self.base = frame.timestamp
        self.start_ms = start_ms
        self.last = frame.timestamp
        self.frames = 0

    def add(self, frame: EncodedFrame) -> None:
        packet = av.Packet(frame.data)
        packet.stream = self.stream
        packet.time_base = self.time_base
        packet.pts = packet.dts = max(0, frame.timestamp - self.base)
        packet.is_keyframe = frame.keyframe
        self.container.mux(packet)
        self.last = max(self.last, frame.timestamp)
        self.frames += 1

    def elapsed_s(self, timestamp: int) -> float:
        return float((timestamp - self.base) * self.time_base)

    def close(self, seq: int, frame_duration: Fraction) -> Segment:
        self.container.close()
        duration = float((self.last - self.base) * self.time_base + frame_duration)
        return Segment(
            seq, self.buffer.getvalue(), self.content_type, self.start_ms, round(duration * 1000), self.frames
        )


class TrackRecorder:
    """Segments of one participant's audio or video track; see the module docstring."""

    def __init__(
        self,
        codec: CodecInfo,
        *,
        recording_started: float,
        on_segment: Callable[[Segment], None],
        request_keyframe: Callable[[], None],
        segment_s: float = 10.0,
    ) -> None:
        if codec.mime_type.lower() not in FORMATS:
            raise ValueError(f"cannot record {codec.mime_type}")
        self.codec = codec
        self.recording_started = recording_started
        self.segment_s = segment_s
        self._on_segment = on_segment
        self._request_keyframe = request_keyframe
        self._open: _Open | None = None
        self._epoch: int | None = None
        self.paused = False
        self.seq = 0
        self.frames_dropped = 0
        # About one frame: added to a segment's length (its last frame lasts that long).
        self._frame_duration = Fraction(1, 30) if codec.kind == "video" else Fraction(20, 1000)

    @property
    def video(self) -> bool:
        return self.codec.kind == "video"

    def tap(self, frame: EncodedFrame) -> None:
        """What a `Publication` calls with every frame it relays (see `Publication.taps`)."""
        self.push(frame)

    def push(self, frame: EncodedFrame) -> None:
        """Record one frame (called on the event loop for every frame the publication delivers)."""
        if self.paused:
            return
        try:
            self._push(frame)
        except (av.error.FFmpegError, ValueError) as err:  # a bad frame must not stop the call
            self.frames_dropped += 1
            logger.warning("recorder %s: frame dropped: %s", self.codec.mime_type, err)

    def _push(self, frame: EncodedFrame) -> None:
        current = self._open
        if current is not None and frame.epoch != self._epoch:
            self._finish()  # the publisher's stream restarted: its timestamps start afresh
            current = None
        if current is not None and frame.timestamp < current.base:
            return  # late and reordered across the segment start: dropped
        if current is not None:
            elapsed = current.elapsed_s(frame.timestamp)
            if self.video and not frame.keyframe and elapsed >= self.segment_s - KEYFRAME_LEAD_S:
                self._request_keyframe()  # rate-limited by the publication; renewed until one comes
            if elapsed >= self.segment_s and (frame.keyframe or not self.video):
                self._finish()
                current = None
        if current is None:
            if self.video and not frame.keyframe:
                self._request_keyframe()
                return  # a segment starts on a keyframe, or it would not decode on its own
            start_ms = max(0, round((frame.arrival - self.recording_started) * 1000))
            current = self._open = _Open(self.codec, frame, start_ms)
            self._epoch = frame.epoch
        current.add(frame)

    def _finish(self) -> None:
        current, self._open = self._open, None
        if current is None or current.frames == 0:
            return
        segment = current.close(self.seq, self._frame_duration)
        self.seq += 1
        self._on_segment(segment)

    def pause(self) -> None:
        """Stop recording (the segment so far is finished and kept)."""
        self._finish()
        self.paused = True

    def resume(self) -> None:
        """Record again from the next keyframe."""
        self.paused = False
        if self.video:
            self._request_keyframe()

    def close(self) -> None:
        """The track or the recording ended: finish the last segment."""
        self._finish()
        self.paused = True


@dataclass(frozen=True)
class RecordingKey:
    """What a worker needs to seal a recording's segments: its data key, never stored by the worker."""

    recording_id: int
    key_id: str
    algorithm: str
    data_key: bytes
    blob_root: str


class RoomRecorder:
    """A consult room's recording: a `TrackRecorder` per publication, segments sealed into the blob store.

    Each finished segment is sealed with the recording's data key and written as a blob file in a thread
    (`storage.blobstore.write_sealed`), then announced with `on_written(info)`; the hub registers it in
    the database. Pausing (someone present has not consented) finishes every open segment and records
    nothing until `resume`.
    """

    def __init__(
        self,
        key: RecordingKey,
        *,
        on_written: Callable[[dict[str, object]], None],
        spawn: Callable[[Any, str], asyncio.Task[None]],
        segment_s: float = 10.0,
        now: Callable[[], float] | None = None,
    ) -> None:
        self.key = key
        self.segment_s = segment_s
        self.started = (now or time.monotonic)()
        self.paused = False
        self.stopped = False
        self._on_written = on_written
        self._spawn = spawn
        self._tracks: dict[tuple[str, str], TrackRecorder] = {}
        self._pending: set[asyncio.Task[None]] = set()
        self.segments_written = 0
        self.failures = 0

    def attach(self, participant_id: str, user_id: str, publication: Publication) -> None:
        """Record this publication (a participant's audio or video) from now on."""
        key = (participant_id, publication.kind)
        if self.stopped:
            return
        existing = self._tracks.get(key)
        if existing is not None:  # the participant came back: the same track, fed again
            publication.taps.add(existing.tap)
            if not self.paused:
                existing.resume()
            return

        def written(segment: Segment) -> None:
            self._store(participant_id, user_id, publication.codec, segment)

        recorder = TrackRecorder(
            publication.codec,
            recording_started=self.started,
            on_segment=written,
            request_keyframe=publication.request_keyframe,
            segment_s=self.segment_s,
        )
        if self.paused:
            recorder.pause()
        self._tracks[key] = recorder
        publication.taps.add(recorder.tap)
        if publication.kind == "video":
            publication.request_keyframe()

    def _store(self, participant_id: str, user_id: str, codec: CodecInfo, segment: Segment) -> None:
        blob_id = new_blob_id()
        container = FORMATS[codec.mime_type.lower()][0]

        async def seal() -> None:
            try:
                digest = await asyncio.to_thread(
                    write_sealed,
                    Path(self.key.blob_root),
                    blob_id,
                    self.key.key_id,
                    self.key.algorithm,
                    self.key.data_key,
                    segment.data,
                )
            except OSError:
                self.failures += 1
                logger.exception("recording %s: a segment could not be written", self.key.recording_id)
                return
            self.segments_written += 1
            self._on_written(
                {
                    "recording_id": self.key.recording_id,
                    "participant_id": participant_id,
                    "user_id": user_id,
                    "kind": codec.kind,
                    "codec": codec.name,
                    "container": container,
                    "content_type": segment.content_type,
                    "seq": segment.seq,
                    "blob_id": blob_id,
                    "start_ms": segment.start_ms,
                    "duration_ms": segment.duration_ms,
                    "size": len(segment.data),
                    "sha256": digest,
                }
            )

        task = self._spawn(seal(), f"seal segment {blob_id}")
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def detach(self, participant_id: str) -> None:
        """The participant left: finish their open segments (their tracks go on if they come back)."""
        for (pid, _), track in self._tracks.items():
            if pid == participant_id:
                track.pause()

    async def drain(self) -> None:
        """Wait until every finished segment is written."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    def pause(self) -> None:
        """Record nothing until `resume` (open segments are finished and kept)."""
        self.paused = True
        for track in self._tracks.values():
            track.pause()

    def resume(self) -> None:
        """Record again (video from its next keyframe)."""
        self.paused = False
        for track in self._tracks.values():
            track.resume()

    def stop(self) -> None:
        """Finish every track; nothing more is recorded."""
        self.stopped = True
        for track in self._tracks.values():
            track.close()

    @property
    def tracks(self) -> int:
        """How many tracks are recorded."""
        return len(self._tracks)
