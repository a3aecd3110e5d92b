"""Off-duty mode (下班模式): working hours, a manual status, and the after-hours auto-reply."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, time, timedelta

#: The emergency path every auto-reply gives, unless the team words it otherwise.
EMERGENCY_PATH = "如有胸痛、呼吸困难、昏迷等紧急情况，请立即拨打 120 或前往最近的急诊。"


class DutyStatus(enum.StrEnum):
    """`auto` follows working hours; the others are set by hand and win over them."""

    AUTO = "auto"
    ON_DUTY = "on_duty"
    BUSY = "busy"
    OFF_DUTY = "off_duty"


@dataclass(frozen=True)
class Shift:
    """Working hours on one weekday (0 = Monday), local time."""

    weekday: int
    start: time
    end: time

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {self.weekday!r}")
        if self.end <= self.start:
            raise ValueError(f"shift end {self.end} must be after its start {self.start}")


#: Community health centres' usual hours: weekdays 8:00-17:00, Saturday mornings.
DEFAULT_HOURS: tuple[Shift, ...] = (
    *(Shift(d, time(8), time(17)) for d in range(5)),
    Shift(5, time(8), time(12)),
)


def in_hours(hours: tuple[Shift, ...], local: datetime) -> bool:
    """Whether `local` falls inside a shift."""
    now = local.time()
    return any(s.weekday == local.weekday() and s.start <= now < s.end for s in hours)


def is_on_duty(status: DutyStatus, hours: tuple[Shift, ...], local: datetime) -> bool:
    """Whether the practitioner counts as reachable now (busy still counts: they reply, later)."""
    if status is DutyStatus.AUTO:
        return in_hours(hours, local)
    return status is not DutyStatus.OFF_DUTY


def next_on_duty(hours: tuple[Shift, ...], local: datetime) -> datetime | None:
    """The start of the next shift after `local`, within a week; None when there are no hours."""
    for days in range(8):
        day = (local + timedelta(days=days)).date()
        starts = sorted(s.start for s in hours if s.weekday == day.weekday())
        for start in starts:
            at = datetime.combine(day, start, tzinfo=local.tzinfo)
            if at > local:
                return at
    return None


def auto_reply(doctor_name: str, back_at: datetime | None, emergency_path: str | None) -> str:
    """The auto-reply: the doctor is resting, when they are back, the message waits, the emergency path.

    `emergency_path` is the team's own wording of it (e.g. naming the nearest emergency department);
    without one the national default is used.
    """
    back = f"，预计 {back_at:%m月%d日 %H:%M} 起回复" if back_at is not None else ""
    return (
        f"{doctor_name}正在休息{back}。您的消息已送达，医生上班后会看到。{emergency_path or EMERGENCY_PATH}"
    )


@dataclass(frozen=True)
class TeamMember:
    """A member of a care team as after-hours and on-call decisions need them."""

    user_id: int
    name: str
    kind: str  # doctor, nurse
    team_role: str  # leader, doctor, nurse
    status: DutyStatus
    hours: tuple[Shift, ...]

    @property
    def is_doctor(self) -> bool:
        """Doctors answer residents and are on call; nurses support them."""
        return self.kind == "doctor"


def doctors_on_duty(members: list[TeamMember], local: datetime) -> list[TeamMember]:
    """The team's doctors reachable now, the leader first."""
    on = [m for m in members if m.is_doctor and is_on_duty(m.status, m.hours, local)]
    return sorted(on, key=lambda m: m.team_role != "leader")


def on_call(members: list[TeamMember], local: datetime) -> TeamMember | None:
    """Who an alert goes to: an on-duty doctor (the leader first); when nobody is on duty, the leader
    (or any doctor of a team without one)."""
    on = doctors_on_duty(members, local)
    if on:
        return on[0]
    doctors = [m for m in members if m.is_doctor]
    return next((m for m in doctors if m.team_role == "leader"), doctors[0] if doctors else None)


def back_on_duty(members: list[TeamMember], local: datetime) -> datetime | None:
    """When the first doctor of the team is next on duty. A doctor switched off duty by hand is not
    counted: nobody knows when they switch back, so the auto-reply must not promise it."""
    backs = [
        b
        for m in members
        if m.is_doctor
        and m.status is not DutyStatus.OFF_DUTY
        and (b := next_on_duty(m.hours, local)) is not None
    ]
    return min(backs) if backs else None
