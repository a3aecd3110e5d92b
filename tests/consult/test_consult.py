"""Consults: the 复诊 rule (first visit offline), the status life cycle, vitals and the visit note."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from consult.consult import (
    Consult,
    ConsultKind,
    ConsultMode,
    ConsultStatus,
    VisitNote,
    Vitals,
    check_transition,
    decide_kind,
)
from consult.errors import RuleViolation
from consult.resident import Condition

S = ConsultStatus


def _condition(*, offline: bool = True, active: bool = True, name: str = "高血压") -> Condition:
    return Condition(
        id=7,
        resident_id=100,
        name=name,
        code="I10",
        diagnosed_offline=offline,
        diagnosed_on=date(2021, 5, 10) if offline else None,
        diagnosed_at="闵行区中心医院" if offline else None,
        active=active,
    )


# --- 复诊: online follow-up only for a condition diagnosed offline ---------------------------


def test_follow_up_of_an_offline_diagnosis_stays_a_follow_up() -> None:
    assert (
        decide_kind(ConsultKind.FOLLOW_UP, _condition(), fall_back_to_advice=False) is ConsultKind.FOLLOW_UP
    )


def test_follow_up_without_offline_diagnosis_is_refused_citing_art_16() -> None:
    with pytest.raises(RuleViolation, match=r"'糖尿病' was not diagnosed offline.*art\. 16") as info:
        decide_kind(
            ConsultKind.FOLLOW_UP, _condition(offline=False, name="糖尿病"), fall_back_to_advice=False
        )
    assert info.value.code == "first_visit_offline"
    assert info.value.field == "condition_id"


def test_follow_up_naming_no_condition_is_refused() -> None:
    with pytest.raises(RuleViolation, match="must name the condition") as info:
        decide_kind(ConsultKind.FOLLOW_UP, None, fall_back_to_advice=False)
    assert info.value.code == "first_visit_offline"


def test_follow_up_of_an_inactive_condition_is_refused() -> None:
    with pytest.raises(RuleViolation, match="'高血压' is no longer active") as info:
        decide_kind(ConsultKind.FOLLOW_UP, _condition(active=False), fall_back_to_advice=False)
    assert info.value.code == "first_visit_offline"


@pytest.mark.parametrize(
    "condition",
    [None, _condition(offline=False), _condition(active=False)],
    ids=["no condition", "not diagnosed offline", "inactive"],
)
def test_follow_up_falls_back_to_advice_when_asked(condition: Condition | None) -> None:
    assert decide_kind(ConsultKind.FOLLOW_UP, condition, fall_back_to_advice=True) is ConsultKind.ADVICE


def test_fall_back_does_not_downgrade_a_valid_follow_up() -> None:
    assert decide_kind(ConsultKind.FOLLOW_UP, _condition(), fall_back_to_advice=True) is ConsultKind.FOLLOW_UP


@pytest.mark.parametrize("kind", [ConsultKind.ADVICE, ConsultKind.REFERRAL])
@pytest.mark.parametrize("condition", [None, _condition(offline=False)], ids=["none", "undiagnosed"])
def test_advice_and_referral_need_no_offline_diagnosis(
    kind: ConsultKind, condition: Condition | None
) -> None:
    assert decide_kind(kind, condition, fall_back_to_advice=False) is kind


# --- status life cycle ----------------------------------------------------------------------

ALLOWED = {
    (S.SCHEDULED, S.WAITING),
    (S.SCHEDULED, S.IN_PROGRESS),
    (S.SCHEDULED, S.CANCELLED),
    (S.SCHEDULED, S.NO_SHOW),
    (S.WAITING, S.IN_PROGRESS),
    (S.WAITING, S.CANCELLED),
    (S.WAITING, S.NO_SHOW),
    (S.WAITING, S.ENDED),  # the doctor closes a consult the resident never got into
    (S.IN_PROGRESS, S.ENDED),
}


@pytest.mark.parametrize(("current", "new"), sorted(ALLOWED))
def test_allowed_consult_transitions(current: ConsultStatus, new: ConsultStatus) -> None:
    check_transition(current, new)


@pytest.mark.parametrize(
    ("current", "new"),
    sorted((a, b) for a in ConsultStatus for b in ConsultStatus if (a, b) not in ALLOWED),
)
def test_every_other_consult_transition_is_refused(current: ConsultStatus, new: ConsultStatus) -> None:
    with pytest.raises(
        RuleViolation, match=f"consult that is {current.value} cannot become {new.value}"
    ) as info:
        check_transition(current, new)
    assert info.value.code == "invalid_transition"
    assert info.value.field == "status"


@pytest.mark.parametrize("terminal", [S.ENDED, S.CANCELLED, S.NO_SHOW])
def test_a_closed_consult_cannot_be_reopened(terminal: ConsultStatus) -> None:
    with pytest.raises(RuleViolation):
        check_transition(terminal, S.IN_PROGRESS)


def test_in_progress_consult_cannot_be_cancelled() -> None:
    with pytest.raises(RuleViolation, match="in_progress cannot become cancelled"):
        check_transition(S.IN_PROGRESS, S.CANCELLED)


# --- vitals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("systolic_mmhg", 300),
        ("diastolic_mmhg", 20),
        ("heart_rate_bpm", 20),
        ("heart_rate_bpm", 250),
        ("glucose_mmol_l", 0.5),
        ("glucose_mmol_l", 40),
        ("temperature_c", 30),
        ("temperature_c", 45),
        ("spo2_percent", 40),
        ("spo2_percent", 100),
        ("weight_kg", 1),
        ("weight_kg", 400),
    ],
)
def test_vitals_on_the_edge_of_plausible_are_kept(field: str, value: float) -> None:
    vitals = Vitals(**{field: value})
    assert getattr(vitals, field) == value


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("systolic_mmhg", 301, "systolic_mmhg 301 is outside the plausible range 50-300"),
        ("systolic_mmhg", 49, "systolic_mmhg 49 is outside"),
        ("diastolic_mmhg", 19, "diastolic_mmhg 19 is outside"),
        ("heart_rate_bpm", 251, "heart_rate_bpm 251 is outside"),
        ("glucose_mmol_l", 0.4, "glucose_mmol_l 0.4 is outside"),
        ("glucose_mmol_l", 55.0, "glucose_mmol_l 55.0 is outside"),
        ("temperature_c", 98.6, "temperature_c 98.6 is outside"),  # Fahrenheit typed in
        ("spo2_percent", 101, "spo2_percent 101 is outside"),
        ("weight_kg", 0, "weight_kg 0 is outside"),
        ("weight_kg", 401, "weight_kg 401 is outside"),
    ],
)
def test_implausible_vitals_are_refused_naming_field_and_value(
    field: str, value: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Vitals(**{field: value})


def test_blood_pressure_reading_is_kept() -> None:
    vitals = Vitals(systolic_mmhg=142, diastolic_mmhg=88, heart_rate_bpm=76)
    assert (vitals.systolic_mmhg, vitals.diastolic_mmhg) == (142, 88)


@pytest.mark.parametrize(("systolic", "diastolic"), [(80, 120), (90, 90)])
def test_diastolic_must_be_below_systolic(systolic: int, diastolic: int) -> None:
    with pytest.raises(ValueError, match=f"diastolic {diastolic} must be below systolic {systolic}"):
        Vitals(systolic_mmhg=systolic, diastolic_mmhg=diastolic)


def test_diastolic_alone_is_not_compared() -> None:
    assert Vitals(diastolic_mmhg=150).diastolic_mmhg == 150


# --- the note and the consult ---------------------------------------------------------------


def test_new_note_is_empty() -> None:
    assert VisitNote().is_empty()


@pytest.mark.parametrize(
    "note",
    [
        VisitNote(subjective="头晕两天"),
        VisitNote(objective="面色正常"),
        VisitNote(assessment="血压控制欠佳"),
        VisitNote(plan="氨氯地平加量"),
        VisitNote(vitals=Vitals(systolic_mmhg=150, diastolic_mmhg=95)),
    ],
)
def test_note_with_anything_written_is_not_empty(note: VisitNote) -> None:
    assert not note.is_empty()


def _consult(**overrides: object) -> Consult:
    created = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)
    fields: dict[str, object] = {
        "id": 1,
        "kind": ConsultKind.ADVICE,
        "mode": ConsultMode.VIDEO,
        "resident_id": 100,
        "team_id": 10,
        "status": S.SCHEDULED,
        "scheduled_at": created + timedelta(hours=1),
        "created_at": created,
    }
    fields.update(overrides)
    return Consult(**fields)  # type: ignore[arg-type]


def test_duration_once_started_and_ended() -> None:
    start = datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
    consult = _consult(status=S.ENDED, started_at=start, ended_at=start + timedelta(minutes=12, seconds=5))
    assert consult.duration_seconds == 725


def test_no_duration_before_the_end() -> None:
    consult = _consult(status=S.IN_PROGRESS, started_at=datetime(2024, 6, 1, 10, 0, tzinfo=UTC))
    assert consult.duration_seconds is None
