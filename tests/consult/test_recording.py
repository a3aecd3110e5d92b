"""Recording consent: everyone present must consent; a newcomer or a withdrawal pauses; the timeline says why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from consult.errors import AccessDenied
from consult.recording import (
    CONSENT_TEXT,
    CONSENT_TEXT_VERSION,
    ConsentRecord,
    Decision,
    RecordingStatus,
    TimelineKind,
    latest_decisions,
    may_answer,
    may_record,
    may_view_recording,
    next_status,
    not_consented,
)
from consult.roles import ProxyScope
from tests.consult import actors

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
DOCTOR, RESIDENT_USER, SPECIALIST = 20, 40, 30


def answer(user_id: int, decision: Decision, minutes: int = 0) -> ConsentRecord:
    return ConsentRecord(1, user_id, decision, T0 + timedelta(minutes=minutes), CONSENT_TEXT_VERSION)


def test_the_text_says_what_who_and_how_long_in_chinese_first() -> None:
    text = CONSENT_TEXT[CONSENT_TEXT_VERSION]
    assert "录音录像" in text["zh"] and "3 年" in text["zh"] and "撤回" in text["zh"]
    assert "3 years" in text["en"]
    with pytest.raises(ValueError, match="version"):
        ConsentRecord(1, DOCTOR, Decision.GRANTED, T0, "recording-v0")


def test_recording_needs_everyone_present() -> None:
    decisions = latest_decisions([answer(DOCTOR, Decision.GRANTED)])
    assert not may_record({DOCTOR, RESIDENT_USER}, decisions)
    assert not_consented({DOCTOR, RESIDENT_USER}, decisions) == (RESIDENT_USER,)
    decisions = latest_decisions([answer(DOCTOR, Decision.GRANTED), answer(RESIDENT_USER, Decision.GRANTED)])
    assert may_record({DOCTOR, RESIDENT_USER}, decisions)
    assert not may_record(set(), decisions)  # an empty room records nothing


def test_the_latest_answer_counts() -> None:
    records = [
        answer(RESIDENT_USER, Decision.GRANTED, 0),
        answer(RESIDENT_USER, Decision.WITHDRAWN, 5),
        answer(DOCTOR, Decision.GRANTED, 1),
    ]
    assert latest_decisions(reversed(records)) == {
        RESIDENT_USER: Decision.WITHDRAWN,
        DOCTOR: Decision.GRANTED,
    }


def test_standing_consent_counts_until_answered_otherwise() -> None:
    assert may_record({DOCTOR, RESIDENT_USER}, {DOCTOR: Decision.GRANTED}, standing={RESIDENT_USER})
    withdrawn = {DOCTOR: Decision.GRANTED, RESIDENT_USER: Decision.WITHDRAWN}
    assert not may_record({DOCTOR, RESIDENT_USER}, withdrawn, standing={RESIDENT_USER})
    # Standing consent is the resident's own: it never covers the specialist.
    assert not_consented({DOCTOR, SPECIALIST}, {DOCTOR: Decision.GRANTED}, standing={RESIDENT_USER}) == (
        SPECIALIST,
    )


def test_a_newcomer_pauses_and_their_consent_resumes_with_marks_on_the_timeline() -> None:
    both = {DOCTOR: Decision.GRANTED, RESIDENT_USER: Decision.GRANTED}
    status, mark = next_status(RecordingStatus.WAITING, {DOCTOR, RESIDENT_USER}, both, T0)
    assert status is RecordingStatus.RUNNING and mark is not None and mark.kind is TimelineKind.STARTED
    status, mark = next_status(status, {DOCTOR, RESIDENT_USER, SPECIALIST}, both, T0)
    assert status is RecordingStatus.PAUSED and mark is not None
    assert (mark.kind, mark.user_ids, mark.reason) == (
        TimelineKind.PAUSED,
        (SPECIALIST,),
        "someone present has not consented",
    )
    assert next_status(status, {DOCTOR, RESIDENT_USER, SPECIALIST}, both, T0) == (status, None)
    status, mark = next_status(
        status, {DOCTOR, RESIDENT_USER, SPECIALIST}, {**both, SPECIALIST: Decision.GRANTED}, T0
    )
    assert status is RecordingStatus.RUNNING and mark is not None and mark.kind is TimelineKind.RESUMED


def test_a_refusal_or_withdrawal_pauses_and_says_so() -> None:
    status, mark = next_status(
        RecordingStatus.RUNNING,
        {DOCTOR, RESIDENT_USER},
        {DOCTOR: Decision.GRANTED, RESIDENT_USER: Decision.WITHDRAWN},
        T0,
    )
    assert status is RecordingStatus.PAUSED and mark is not None
    assert mark.reason == "consent refused or withdrawn" and mark.user_ids == (RESIDENT_USER,)
    # Someone leaving who had refused lets it resume.
    status, mark = next_status(
        status, {DOCTOR}, {DOCTOR: Decision.GRANTED, RESIDENT_USER: Decision.WITHDRAWN}, T0
    )
    assert status is RecordingStatus.RUNNING


def test_an_ended_recording_stays_ended() -> None:
    for final in (RecordingStatus.ENDED, RecordingStatus.INCOMPLETE):
        assert next_status(final, {DOCTOR}, {DOCTOR: Decision.GRANTED}, T0) == (final, None)


def test_a_proxy_answers_for_the_resident_only_with_the_consent_scope() -> None:
    with_scope = actors.proxy((actors.RESIDENT, {ProxyScope.CONSULT, ProxyScope.CONSENT}))
    assert may_answer(with_scope, actors.RESIDENT) == actors.RESIDENT
    without = actors.proxy((actors.RESIDENT, {ProxyScope.CONSULT}))
    with pytest.raises(AccessDenied, match="consent"):
        may_answer(without, actors.RESIDENT)
    with pytest.raises(AccessDenied):
        may_answer(with_scope, actors.OTHER_RESIDENT)
    assert may_answer(actors.doctor(), actors.RESIDENT) is None


def test_only_compliance_and_the_resident_s_side_may_view_recordings() -> None:
    assert may_view_recording(actors.compliance(), actors.RESIDENT)
    assert may_view_recording(actors.resident(), actors.RESIDENT)
    assert not may_view_recording(actors.resident(), actors.OTHER_RESIDENT)
    assert may_view_recording(actors.proxy((actors.RESIDENT, {ProxyScope.VIEW_RECORDS})), actors.RESIDENT)
    assert not may_view_recording(actors.proxy((actors.RESIDENT, {ProxyScope.CONSULT})), actors.RESIDENT)
    for other in (actors.doctor(), actors.nurse(), actors.specialist(), actors.admin()):
        assert not may_view_recording(other, actors.RESIDENT)
