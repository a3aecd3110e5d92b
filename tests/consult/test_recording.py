"""Recording consent: everyone present must consent; a newcomer or a withdrawal pauses; the timeline says why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from consult.consult import ConsultKind
from consult.errors import AccessDenied, Conflict, RuleViolation
from consult.recording import (
    CONSENT_TEXT,
    CONSENT_TEXT_VERSION,
    STANDING_CONSENT_TEXT,
    STANDING_TEXT_VERSION,
    ConsentRecord,
    Decision,
    RecordingStatus,
    StandingConsent,
    TimelineKind,
    check_can_give,
    latest_decisions,
    may_answer,
    may_give_standing_consent,
    may_read_standing_consent,
    may_record,
    may_view_recording,
    next_status,
    not_consented,
    standing_answer,
    standing_mark,
    standing_users,
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


# --- standing consent on the contract ---------------------------------------------------------------

CONTRACT = 7


def standing(
    *, contract_id: int = CONTRACT, withdrawn_minutes: int | None = None, consent_id: int = 3
) -> StandingConsent:
    return StandingConsent(
        consent_id,
        actors.RESIDENT,
        contract_id,
        RESIDENT_USER,
        T0 - timedelta(days=30),
        STANDING_TEXT_VERSION,
        withdrawn_at=None if withdrawn_minutes is None else T0 + timedelta(minutes=withdrawn_minutes),
    )


def taken(
    *,
    kind: ConsultKind = ConsultKind.FOLLOW_UP,
    present: set[int] | None = None,
    answers: list[ConsentRecord] | None = None,
    consult_answers: list[ConsentRecord] | None = None,
    held: StandingConsent | None = None,
    contract_id: int | None = CONTRACT,
    minutes: int = 0,
) -> ConsentRecord | None:
    answers = answers or []
    return standing_answer(
        consult_id=1,
        kind=kind,
        resident_user_id=RESIDENT_USER,
        present={DOCTOR, RESIDENT_USER} if present is None else present,
        answers=answers,
        consult_answers=answers if consult_answers is None else consult_answers,
        standing=held,
        contract_id=contract_id,
        now=T0 + timedelta(minutes=minutes),
    )


def test_the_standing_text_says_what_who_how_long_and_what_is_left_out() -> None:
    text = STANDING_CONSENT_TEXT[STANDING_TEXT_VERSION]
    for words in ("随访", "录音录像", "质控", "3 年", "会诊", "撤回"):
        assert words in text["zh"], words
    assert "3 years" in text["en"] and "referral" in text["en"]
    with pytest.raises(ValueError, match="version"):
        StandingConsent(1, actors.RESIDENT, CONTRACT, RESIDENT_USER, T0, CONSENT_TEXT_VERSION)
    # An answer taken from a standing consent names the standing text; one asked in the call, the call's.
    ConsentRecord(1, RESIDENT_USER, Decision.GRANTED, T0, STANDING_TEXT_VERSION, standing_consent_id=3)
    with pytest.raises(ValueError, match="version"):
        ConsentRecord(1, RESIDENT_USER, Decision.GRANTED, T0, STANDING_TEXT_VERSION)


def test_a_standing_consent_counts_on_its_contract_until_withdrawn() -> None:
    held = standing(withdrawn_minutes=10)
    assert held.in_force(CONTRACT, T0)
    assert not held.in_force(CONTRACT, T0 + timedelta(minutes=10))
    assert not held.in_force(CONTRACT + 1, T0)  # a renewed contract needs it given again
    assert not held.in_force(None, T0)
    assert not held.in_force(CONTRACT, T0 - timedelta(days=31))  # not before it was given


def test_only_the_resident_s_side_gives_it_and_the_care_team_reads_it() -> None:
    assert may_give_standing_consent(actors.resident(), actors.RESIDENT) is None
    with_scope = actors.proxy((actors.RESIDENT, {ProxyScope.CONSENT}))
    assert may_give_standing_consent(with_scope, actors.RESIDENT) == actors.RESIDENT
    with pytest.raises(AccessDenied) as refused:
        may_give_standing_consent(actors.proxy((actors.RESIDENT, {ProxyScope.VIEW_RECORDS})), actors.RESIDENT)
    assert refused.value.code == "no_consent_scope"
    for other in (actors.doctor(), actors.nurse(), actors.compliance(), actors.specialist(), actors.admin()):
        with pytest.raises(AccessDenied):
            may_give_standing_consent(other, actors.RESIDENT)
    with pytest.raises(AccessDenied):
        may_give_standing_consent(actors.resident(), actors.OTHER_RESIDENT)

    assert may_read_standing_consent(actors.doctor(), actors.RESIDENT, actors.TEAM)
    assert may_read_standing_consent(actors.nurse(), actors.RESIDENT, actors.TEAM)
    assert not may_read_standing_consent(actors.doctor(), actors.RESIDENT, actors.OTHER_TEAM)
    assert may_read_standing_consent(actors.resident(), actors.RESIDENT, actors.TEAM)
    assert may_read_standing_consent(with_scope, actors.RESIDENT, actors.TEAM)
    assert not may_read_standing_consent(
        actors.proxy((actors.RESIDENT, {ProxyScope.MESSAGE})), actors.RESIDENT, 10
    )
    for other in (actors.specialist(), actors.compliance(), actors.admin()):
        assert not may_read_standing_consent(other, actors.RESIDENT, actors.TEAM)


def test_giving_needs_a_contract_the_text_shown_and_none_in_force() -> None:
    check_can_give(None, CONTRACT, STANDING_TEXT_VERSION)
    with pytest.raises(RuleViolation) as bad:
        check_can_give(None, CONTRACT, CONSENT_TEXT_VERSION)
    assert bad.value.field == "text_version"
    with pytest.raises(Conflict) as none:
        check_can_give(None, None, STANDING_TEXT_VERSION)
    assert none.value.code == "no_contract"
    with pytest.raises(Conflict) as twice:
        check_can_give(standing(), CONTRACT, STANDING_TEXT_VERSION)
    assert twice.value.code == "standing_consent_exists"


def test_in_a_follow_up_the_resident_counts_as_consenting_by_their_standing_consent() -> None:
    answer = taken(held=standing())
    assert answer is not None
    assert (answer.user_id, answer.decision, answer.text_version, answer.standing_consent_id) == (
        RESIDENT_USER,
        Decision.GRANTED,
        STANDING_TEXT_VERSION,
        3,
    )
    answers = [ConsentRecord(1, DOCTOR, Decision.GRANTED, T0, CONSENT_TEXT_VERSION), answer]
    assert may_record({DOCTOR, RESIDENT_USER}, latest_decisions(answers))
    assert standing_users(answers) == (RESIDENT_USER,)
    assert taken(held=standing(), answers=answers) is None  # taken once
    mark = standing_mark(answer)
    assert mark.kind is TimelineKind.STANDING_CONSENT and mark.user_ids == (RESIDENT_USER,)
    assert STANDING_TEXT_VERSION in mark.reason


def test_standing_consent_does_not_cover_advice_referrals_or_others_and_needs_the_resident_present() -> None:
    assert taken(kind=ConsultKind.REFERRAL, held=standing()) is None
    assert taken(kind=ConsultKind.ADVICE, held=standing()) is None
    assert taken(held=None) is None
    assert taken(held=standing(), present={DOCTOR}) is None  # a family member alone still answers
    assert taken(held=standing(withdrawn_minutes=-5)) is None  # withdrawn before the consult
    assert taken(held=standing(), contract_id=CONTRACT + 1) is None  # given on an earlier contract


def test_an_answer_in_the_call_overrides_the_standing_consent_for_the_whole_consult() -> None:
    withdrew = ConsentRecord(1, RESIDENT_USER, Decision.WITHDRAWN, T0, CONSENT_TEXT_VERSION)
    assert taken(held=standing(), answers=[withdrew]) is None
    # A new recording request in the same consult does not take the standing consent again.
    assert taken(held=standing(), answers=[], consult_answers=[withdrew]) is None


def test_a_standing_consent_withdrawn_during_the_call_counts_as_a_withdrawal() -> None:
    first = taken(held=standing())
    assert first is not None
    later = taken(held=standing(withdrawn_minutes=5), answers=[first], minutes=6)
    assert later is not None
    assert (later.decision, later.standing_consent_id) == (Decision.WITHDRAWN, 3)
    assert standing_users([first, later]) == ()
    assert not may_record({DOCTOR, RESIDENT_USER}, latest_decisions([first, later]))
    assert standing_mark(later).reason.startswith("the standing consent was withdrawn")
