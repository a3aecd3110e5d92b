"""A recorded consult for the demo: what a compliance officer reviews on a fresh `make run`.

Yesterday 刘德明 had a video follow-up with 王建国医生 and both consented to recording. Their tracks are
made here as a real recording would be: a picture and a tone per participant, encoded once (VP8 and
Opus, PyAV), cut into segments by the recorder (media/recorder.py) and sealed under the recording's
own data key in the blob store, with consent records, a timeline that includes a pause, the consult's
chat, and the retention clock. Nothing here is a mock: the review pages decrypt and play it like any
other recording.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import av
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from consult.consult import ConsultKind, ConsultMode, ConsultStatus, Participant, ParticipantRole
from consult.messaging import MessageKind
from consult.recording import (
    CONSENT_TEXT_VERSION,
    ConsentRecord,
    Decision,
    RecordingStatus,
    TimelineEntry,
    TimelineKind,
)
from consult.retention import RetentionPolicy
from media.forwarding import CodecInfo, EncodedFrame
from media.recorder import Segment, TrackRecorder
from storage import consults, messages, recordings, residents
from storage.blobstore import BlobStore
from storage.models import ResidentRow, UserRow

VP8 = CodecInfo("video", "video/VP8", 90000)
OPUS = CodecInfo("audio", "audio/opus", 48000, 2)
#: Seconds of the demo recording, in two parts (a short pause in between, as a newcomer would cause).
PARTS = (8.0, 6.0)
PAUSE_S = 3.0


def _video(seconds: float, shade: int, start: float) -> list[tuple[bytes, int, bool, float]]:
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = 320, 240, "yuv420p"
    codec.time_base, codec.framerate, codec.gop_size = Fraction(1, 90000), Fraction(30), 60
    codec.bit_rate = 300_000
    out = []
    for i in range(round(seconds * 30)):
        frame = av.VideoFrame(320, 240, "yuv420p")
        y, u, v = frame.planes
        bar = (i * 4) % 320
        row = bytes(255 if bar <= x < bar + 24 else shade for x in range(320))
        y.update(row * 240)
        u.update(bytes([90 + shade // 4]) * u.buffer_size)
        v.update(bytes([150]) * v.buffer_size)
        frame.pts, frame.time_base = i * 3000, Fraction(1, 90000)
        for packet in codec.encode(frame):
            out.append((bytes(packet), i * 3000, packet.is_keyframe, start + i / 30))
    return out


def _audio(seconds: float, pitch: int, start: float) -> list[tuple[bytes, int, bool, float]]:
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate, codec.layout, codec.format = 48000, "stereo", "s16"
    codec.time_base = Fraction(1, 48000)
    out = []
    for i in range(round(seconds * 50)):
        frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
        samples = bytearray()
        for n in range(960):
            level = 3000 if ((i * 960 + n) // (48000 // pitch // 2)) % 2 else -3000  # a soft square tone
            samples += level.to_bytes(2, "little", signed=True) * 2
        frame.planes[0].update(bytes(samples))
        frame.sample_rate, frame.pts, frame.time_base = 48000, i * 960, Fraction(1, 48000)
        for packet in codec.encode(frame):
            out.append((bytes(packet), i * 960, True, start + i / 50))
    return out


def _segments(codec: CodecInfo, parts: list[list[tuple[bytes, int, bool, float]]]) -> list[Segment]:
    segments: list[Segment] = []
    recorder = TrackRecorder(
        codec,
        recording_started=0.0,
        on_segment=segments.append,
        request_keyframe=lambda: None,
        segment_s=10.0,
    )
    offset = 0
    for n, part in enumerate(parts):
        if n:
            recorder.pause()
            recorder.resume()
        for data, pts, key, arrival in part:
            recorder.push(EncodedFrame(data, pts + offset, key, arrival, 0))
        offset += part[-1][1] + (3000 if codec.kind == "video" else 960) + round(PAUSE_S * codec.clock_rate)
    recorder.close()
    return segments


async def load(
    session: AsyncSession, blobs: BlobStore, today: date, zone: str, policy: RetentionPolicy
) -> int:
    """Add the recorded demo consult; returns the recording's id."""
    users = {
        u.username: u
        for u in await session.scalars(select(UserRow).where(UserRow.username.in_(["doctor", "resident"])))
    }
    doctor, resident_user = users["doctor"], users["resident"]
    resident = await session.get(ResidentRow, resident_user.resident_id)
    assert resident is not None
    start = datetime.combine(today - timedelta(days=1), time(10, 0), tzinfo=ZoneInfo(zone)).astimezone(UTC)
    duration = sum(PARTS) + PAUSE_S
    end = start + timedelta(seconds=duration + 60)
    team_id = await residents.contracted_team(session, resident.id, today)
    consult = await consults.add(
        session,
        kind=ConsultKind.FOLLOW_UP,
        mode=ConsultMode.VIDEO,
        resident_id=resident.id,
        team_id=team_id,
        status=ConsultStatus.ENDED,
        scheduled_at=start,
        condition_id=None,
        referral_id=None,
        reason="高血压随访（已录像，供质控演示）",
        created_by=doctor.id,
        participants=[
            Participant(doctor.id, ParticipantRole.DOCTOR, doctor.display_name, start),
            Participant(resident_user.id, ParticipantRole.RESIDENT, resident_user.display_name, start),
        ],
    )
    consult.started_at, consult.ended_at = start, end
    chat = await messages.consult_conversation(session, consult.id, resident.id, team_id)
    for at, sender, text in (
        (start + timedelta(seconds=5), doctor, "刘大爷，今天血压量了吗？"),
        (start + timedelta(seconds=12), resident_user, "量了，早上 138/86。"),
    ):
        await messages.add_message(
            session,
            messages.NewMessage(
                conversation_id=chat.id,
                kind=MessageKind.TEXT,
                sender_user_id=sender.id,
                sender_role=sender.role,
                sender_name=sender.display_name,
                text=text,
                created_at=at,
            ),
        )
    recording = await recordings.request(
        session, blobs, consult_id=consult.id, requested_by=doctor.id, now=start
    )
    for n, user in enumerate((doctor, resident_user)):
        await recordings.add_consent(
            session,
            ConsentRecord(
                consult.id, user.id, Decision.GRANTED, start + timedelta(seconds=2 + n), CONSENT_TEXT_VERSION
            ),
            recording.id,
        )
    first, second = PARTS
    for user, shade, pitch in ((doctor, 70, 440), (resident_user, 140, 330)):
        for codec, make in (
            (VP8, lambda s, a, sh=shade: _video(s, sh, a)),
            (OPUS, lambda s, a, p=pitch: _audio(s, p, a)),
        ):
            track = await recordings.track(session, recording.id, user.id, codec.kind, codec.name, "webm")
            parts = [make(first, 0.0), make(second, first + PAUSE_S)]
            for segment in _segments(codec, parts):
                blob = await blobs.put(
                    session, segment.data, segment.content_type, key_id=recording.key_id, created_by=doctor.id
                )
                await recordings.add_segment(
                    session, track.id, segment.seq, blob.id, segment.start_ms, segment.duration_ms
                )
    marks = [
        TimelineEntry(start + timedelta(seconds=3), TimelineKind.STARTED, "everyone present consented"),
        TimelineEntry(
            start + timedelta(seconds=3 + first), TimelineKind.PAUSED, "someone present has not consented"
        ),
        TimelineEntry(
            start + timedelta(seconds=3 + first + PAUSE_S), TimelineKind.RESUMED, "everyone present consented"
        ),
        TimelineEntry(start + timedelta(seconds=3 + duration), TimelineKind.STOPPED, "the consult ended"),
    ]
    for mark in marks:
        recordings.mark(recording, RecordingStatus.RUNNING, mark)
    recording.status = RecordingStatus.ENDED.value
    recording.ended_at = marks[-1].at
    recording.complete = True
    recording.expires_on = recordings.expiry(policy, end, today)
    await session.flush()
    return recording.id
