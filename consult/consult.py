"""Consults (问诊/随访/会诊): kinds, modes, the status life cycle, the visit note and the 复诊 rule."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime

from consult.errors import RuleViolation
from consult.resident import Condition


class ConsultKind(enum.StrEnum):
    """咨询 advice, 复诊 follow-up visit of a diagnosed condition, 会诊 multi-party referral consult."""

    ADVICE = "advice"
    FOLLOW_UP = "follow_up"
    REFERRAL = "referral"


class ConsultMode(enum.StrEnum):
    """How the consult is held."""

    VIDEO = "video"
    VOICE = "voice"
    TEXT = "text"


class ConsultStatus(enum.StrEnum):
    """scheduled → waiting → in_progress → ended, or cancelled / no_show before it starts."""

    SCHEDULED = "scheduled"
    WAITING = "waiting"
    IN_PROGRESS = "in_progress"
    ENDED = "ended"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


class ParticipantRole(enum.StrEnum):
    """A participant's part in one consult (FHIR Encounter.participant.type, simplified)."""

    RESIDENT = "resident"
    PROXY = "proxy"
    DOCTOR = "doctor"
    NURSE = "nurse"
    SPECIALIST = "specialist"


_TRANSITIONS: dict[ConsultStatus, frozenset[ConsultStatus]] = {
    ConsultStatus.SCHEDULED: frozenset(
        {ConsultStatus.WAITING, ConsultStatus.IN_PROGRESS, ConsultStatus.CANCELLED, ConsultStatus.NO_SHOW}
    ),
    ConsultStatus.WAITING: frozenset(
        {ConsultStatus.IN_PROGRESS, ConsultStatus.CANCELLED, ConsultStatus.NO_SHOW, ConsultStatus.ENDED}
    ),
    ConsultStatus.IN_PROGRESS: frozenset({ConsultStatus.ENDED}),
}

TERMINAL = frozenset({ConsultStatus.ENDED, ConsultStatus.CANCELLED, ConsultStatus.NO_SHOW})


def check_transition(current: ConsultStatus, new: ConsultStatus) -> None:
    """Refuse a status change the consult life cycle does not allow."""
    if new not in _TRANSITIONS.get(current, frozenset()):
        raise RuleViolation(
            f"a consult that is {current.value} cannot become {new.value}",
            code="invalid_transition",
            field="status",
        )


# Plausible physiological bounds: values outside are typing errors, not readings.
_VITAL_BOUNDS: dict[str, tuple[float, float]] = {
    "systolic_mmhg": (50, 300),
    "diastolic_mmhg": (20, 200),
    "heart_rate_bpm": (20, 250),
    "glucose_mmol_l": (0.5, 40),
    "temperature_c": (30, 45),
    "spo2_percent": (40, 100),
    "weight_kg": (1, 400),
}


@dataclass(frozen=True)
class Vitals:
    """Readings taken or reported during the consult; every field optional."""

    systolic_mmhg: int | None = None
    diastolic_mmhg: int | None = None
    heart_rate_bpm: int | None = None
    glucose_mmol_l: float | None = None
    temperature_c: float | None = None
    spo2_percent: int | None = None
    weight_kg: float | None = None

    def __post_init__(self) -> None:
        for name, (low, high) in _VITAL_BOUNDS.items():
            value = getattr(self, name)
            if value is not None and not low <= value <= high:
                raise ValueError(f"{name} {value!r} is outside the plausible range {low}-{high}")
        if (
            self.systolic_mmhg is not None
            and self.diastolic_mmhg is not None
            and self.diastolic_mmhg >= self.systolic_mmhg
        ):
            raise ValueError(f"diastolic {self.diastolic_mmhg} must be below systolic {self.systolic_mmhg}")


@dataclass(frozen=True)
class VisitNote:
    """The SOAP note of a consult."""

    subjective: str = ""
    objective: str = ""
    vitals: Vitals = field(default_factory=Vitals)
    assessment: str = ""
    plan: str = ""

    def is_empty(self) -> bool:
        """True when nothing has been written yet."""
        return not (
            self.subjective or self.objective or self.assessment or self.plan or self.vitals != Vitals()
        )


@dataclass(frozen=True)
class Participant:
    """Someone taking part in a consult, by user account."""

    user_id: int
    role: ParticipantRole
    display_name: str
    joined_at: datetime | None = None
    left_at: datetime | None = None


@dataclass(frozen=True)
class Consult:
    """One consult session (FHIR Encounter, class VR) linked to the resident's record."""

    id: int
    kind: ConsultKind
    mode: ConsultMode
    resident_id: int
    team_id: int | None
    status: ConsultStatus
    scheduled_at: datetime | None
    created_at: datetime
    condition_id: int | None = None
    followup_task_id: int | None = None
    referral_id: int | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    reason: str = ""
    note: VisitNote = field(default_factory=VisitNote)
    next_visit_on: date | None = None
    participants: tuple[Participant, ...] = ()

    @property
    def duration_seconds(self) -> int | None:
        """Seconds between start and end, once both are known."""
        if self.started_at is None or self.ended_at is None:
            return None
        return int((self.ended_at - self.started_at).total_seconds())


def decide_kind(
    requested: ConsultKind, condition: Condition | None, *, fall_back_to_advice: bool
) -> ConsultKind:
    """Apply 互联网诊疗管理办法 art. 16: online 复诊 only for a condition diagnosed offline.

    A follow-up for a condition with no offline diagnosis is refused, or, when the caller asks
    for it, held as advice (咨询) instead, where no diagnosis is made.
    """
    if requested is not ConsultKind.FOLLOW_UP:
        return requested
    if condition is not None and condition.diagnosed_offline and condition.active:
        return requested
    if fall_back_to_advice:
        return ConsultKind.ADVICE
    if condition is None:
        why = "a follow-up visit (复诊) must name the condition it follows up"
    elif not condition.active:
        why = f"condition {condition.name!r} is no longer active"
    else:
        why = (
            f"condition {condition.name!r} was not diagnosed offline: a first visit must be "
            "offline (互联网诊疗管理办法 art. 16); refer the resident or hold an advice consult"
        )
    raise RuleViolation(why, code="first_visit_offline", field="condition_id")
