"""One playable file per recorded track, joined from its segments without transcoding.

A track is stored as short segments, each a whole WebM/Matroska file placed on the recording's clock
by its `start_ms` (media/recorder.py). For review, the segments are demuxed and their packets muxed
into one file with their timestamps moved to that clock, so a track that starts late, or was paused,
keeps its gaps and plays in step with the participant's other tracks and the other participants'.
This happens in memory: decrypted media is never written to disk.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from fractions import Fraction

import av

#: Players show a track from 0; a segment's packets are moved by its start on the recording's clock.
_MS = Fraction(1, 1000)


def join_segments(segments: Iterable[tuple[int, bytes]], container_format: str = "webm") -> bytes:
    """The segments `(start_ms, data)`, in order, as one file of `container_format`."""
    out_buffer = io.BytesIO()
    output = av.open(out_buffer, mode="w", format=container_format)
    out_stream = None
    last_dts: int | None = None
    try:
        for start_ms, data in segments:
            with av.open(io.BytesIO(data), mode="r") as source:
                in_stream = source.streams[0]
                if out_stream is None:
                    out_stream = output.add_stream_from_template(in_stream)
                time_base = in_stream.time_base
                assert time_base is not None  # a demuxed stream always has one
                offset = round(Fraction(start_ms) * _MS / time_base)
                for packet in source.demux(in_stream):
                    if packet.dts is None:
                        continue
                    packet.pts = (packet.pts or 0) + offset
                    packet.dts += offset
                    if last_dts is not None and packet.dts <= last_dts:  # WebM counts in ms throughout
                        continue  # overlapping a segment already written (a late frame): dropped
                    last_dts = packet.dts
                    packet.stream = out_stream
                    output.mux(packet)
    finally:
        output.close()
    return out_buffer.getvalue()


def duration_s(data: bytes) -> float:
    """A joined track's duration in seconds, from its container."""
    with av.open(io.BytesIO(data), mode="r") as container:
        return float(container.duration or 0) / av.time_base
