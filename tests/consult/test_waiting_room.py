"""The waiting room: the doctor's queue, who may check in and when, and specialists' invite links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from consult.access import Actor
from consult.consult import Consult, ConsultKind, ConsultMode, ConsultStatus
from consult.errors import AccessDenied, Conflict, RuleViolation
from consult.roles import ProxyScope
from consult.waiting_room import (
    EARLY_CHECK_IN,
    Invite,
    QueueEntry,
    check_invite,
    queue_order,
    require_may_check_in,
)
from tests.consult.actors import (
    OTHER_RESIDENT,
    RESIDENT,
    TEAM,
    compliance,
    doctor,
    nurse,
    proxy,
    resident,
    specialist,
)

CONSULT = 900
NOW = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)


def consult(
    *,
    id: int = CONSULT,
    kind: ConsultKind = ConsultKind.FOLLOW_UP,
    status: ConsultStatus = ConsultStatus.SCHEDULED,
    scheduled_at: datetime | None = NOW,
) -> Consult:
    return Consult(
        id=id,
        kind=kind,
        mode=ConsultMode.VIDEO,
        resident_id=RESIDENT,
        team_id=TEAM,
        status=status,
        scheduled_at=scheduled_at,
        created_at=NOW - timedelta(days=2),
    )


def entry(consult_id: int, checked_in_at: datetime, name: str = "王秀英") -> QueueEntry:
    return QueueEntry(
        consult_id=consult_id,
        team_id=TEAM,
        resident_id=RESIDENT + consult_id,
        resident_name=name,
        user_id=consult_id,
        checked_in_at=checked_in_at,
        kind=ConsultKind.FOLLOW_UP,
    )


CONSULT_SCOPE = {ProxyScope.CONSULT}
EVERY_SCOPE_BUT_CONSULT = {ProxyScope.MESSAGE, ProxyScope.CONSENT, ProxyScope.VIEW_RECORDS}


# --- the queue ------------------------------------------------------------------------------


def test_queue_is_first_come_first_served() -> None:
    li = entry(903, NOW - timedelta(minutes=2), "李大爷")
    wang = entry(901, NOW - timedelta(minutes=10), "王秀英")
    zhao = entry(902, NOW - timedelta(minutes=5), "赵阿姨")
    assert [e.resident_name for e in queue_order([li, wang, zhao])] == ["王秀英", "赵阿姨", "李大爷"]


def test_queue_ties_go_by_consult_id() -> None:
    same_time = NOW - timedelta(minutes=3)
    later = entry(905, same_time, "后约")
    earlier = entry(904, same_time, "先约")
    assert [e.consult_id for e in queue_order([later, earlier])] == [904, 905]


def test_queue_of_nobody_is_empty() -> None:
    assert queue_order([]) == []


def test_waited_seconds_counts_whole_seconds_since_check_in() -> None:
    waiting = entry(901, NOW)
    assert waiting.waited_seconds(NOW + timedelta(minutes=4, seconds=30, milliseconds=900)) == 270


def test_waited_seconds_is_never_negative_when_clocks_disagree() -> None:
    assert entry(901, NOW).waited_seconds(NOW - timedelta(seconds=5)) == 0


# --- require_may_check_in -------------------------------------------------------------------


@pytest.mark.parametrize(
    "actor",
    [resident(), proxy((RESIDENT, CONSULT_SCOPE))],
    ids=["resident", "proxy with consult scope"],
)
def test_resident_or_proxy_checks_in_to_the_residents_consult(actor: Actor) -> None:
    require_may_check_in(actor, consult(), NOW)


def test_resident_may_not_check_in_to_someone_elses_consult() -> None:
    with pytest.raises(AccessDenied, match="you may only check in to your own consults") as info:
        require_may_check_in(resident(OTHER_RESIDENT), consult(), NOW)
    assert info.value.code == "forbidden"


@pytest.mark.parametrize(
    "actor",
    [proxy((RESIDENT, EVERY_SCOPE_BUT_CONSULT)), proxy((OTHER_RESIDENT, CONSULT_SCOPE)), proxy()],
    ids=["proxy without consult scope", "proxy bound to someone else", "proxy with no binding"],
)
def test_proxy_needs_the_consult_scope_for_this_resident(actor: Actor) -> None:
    with pytest.raises(AccessDenied, match="does not include consults") as info:
        require_may_check_in(actor, consult(), NOW)
    assert info.value.code == "scope_missing"


@pytest.mark.parametrize(
    "actor",
    [doctor(), nurse(), specialist(), compliance()],
    ids=["doctor", "nurse", "specialist", "compliance"],
)
def test_the_team_does_not_check_in(actor: Actor) -> None:
    with pytest.raises(AccessDenied, match="only the resident or their proxy checks in"):
        require_may_check_in(actor, consult(), NOW)


def test_a_waiting_consult_may_be_checked_in_to_again() -> None:
    require_may_check_in(resident(), consult(status=ConsultStatus.WAITING), NOW)


def test_a_running_consult_takes_a_resident_back_through_the_waiting_room() -> None:
    """A resident who left (or dropped for too long) waits to be admitted again."""
    require_may_check_in(resident(), consult(status=ConsultStatus.IN_PROGRESS), NOW)


@pytest.mark.parametrize(
    "status",
    [ConsultStatus.ENDED, ConsultStatus.CANCELLED, ConsultStatus.NO_SHOW],
    ids=str,
)
def test_consult_that_cannot_start_refuses_check_in(status: ConsultStatus) -> None:
    with pytest.raises(Conflict, match=f"consult {CONSULT} is {status.value}") as info:
        require_may_check_in(resident(), consult(status=status), NOW)
    assert info.value.code == "consult_not_waiting"


@pytest.mark.parametrize(
    "before", [timedelta(0), timedelta(minutes=10), EARLY_CHECK_IN], ids=["on time", "10 min", "30 min"]
)
def test_check_in_opens_30_minutes_before(before: timedelta) -> None:
    assert EARLY_CHECK_IN == timedelta(minutes=30)
    require_may_check_in(resident(), consult(scheduled_at=NOW + before), NOW)


@pytest.mark.parametrize(
    "before", [timedelta(minutes=30, seconds=1), timedelta(hours=3)], ids=["30 min 1 s", "3 hours"]
)
def test_check_in_more_than_30_minutes_early_is_refused(before: timedelta) -> None:
    with pytest.raises(RuleViolation, match="check-in opens 30 minutes before the consult") as info:
        require_may_check_in(resident(), consult(scheduled_at=NOW + before), NOW)
    assert info.value.code == "too_early"


def test_late_resident_may_still_check_in() -> None:
    require_may_check_in(resident(), consult(scheduled_at=NOW - timedelta(minutes=20)), NOW)


def test_on_demand_consult_without_a_time_may_be_checked_in_to_at_once() -> None:
    require_may_check_in(
        proxy((RESIDENT, CONSULT_SCOPE)), consult(kind=ConsultKind.ADVICE, scheduled_at=None), NOW
    )


# --- check_invite -------------------------------------------------------------------------------


def referral(status: ConsultStatus = ConsultStatus.SCHEDULED) -> Consult:
    return consult(kind=ConsultKind.REFERRAL, status=status)


def invite(
    *,
    consult_id: int = CONSULT,
    expires_at: datetime = NOW + timedelta(hours=20),
    used_at: datetime | None = None,
) -> Invite:
    return Invite(consult_id=consult_id, expires_at=expires_at, used_at=used_at)


@pytest.mark.parametrize(
    "status", [ConsultStatus.SCHEDULED, ConsultStatus.WAITING, ConsultStatus.IN_PROGRESS], ids=str
)
def test_specialist_with_a_fresh_invite_joins_an_open_referral(status: ConsultStatus) -> None:
    check_invite(invite(), referral(status), specialist(), NOW)


@pytest.mark.parametrize(
    "found", [None, invite(consult_id=CONSULT + 1)], ids=["unknown invite", "invite to another consult"]
)
def test_unknown_or_misdirected_invite_is_invalid(found: Invite | None) -> None:
    with pytest.raises(AccessDenied, match="not valid for this consult") as info:
        check_invite(found, referral(), specialist(), NOW)
    assert info.value.code == "invite_invalid"


def test_used_invite_cannot_be_used_again() -> None:
    with pytest.raises(AccessDenied, match="already been used") as info:
        check_invite(invite(used_at=NOW - timedelta(hours=1)), referral(), specialist(), NOW)
    assert info.value.code == "invite_used"


@pytest.mark.parametrize(
    "expires_at", [NOW, NOW - timedelta(minutes=1)], ids=["expiring this instant", "expired"]
)
def test_expired_invite_is_refused(expires_at: datetime) -> None:
    with pytest.raises(AccessDenied, match="ask the doctor for a new one") as info:
        check_invite(invite(expires_at=expires_at), referral(), specialist(), NOW)
    assert info.value.code == "invite_expired"


def test_invite_is_valid_until_the_last_second() -> None:
    check_invite(invite(expires_at=NOW + timedelta(seconds=1)), referral(), specialist(), NOW)


@pytest.mark.parametrize(
    "actor",
    [doctor(), nurse(), resident(), proxy((RESIDENT, CONSULT_SCOPE)), compliance()],
    ids=["doctor", "nurse", "resident", "proxy", "compliance"],
)
def test_invite_is_for_specialists_only(actor: Actor) -> None:
    with pytest.raises(AccessDenied, match="invites are for specialists") as info:
        check_invite(invite(), referral(), actor, NOW)
    assert info.value.code == "invite_wrong_role"


@pytest.mark.parametrize("kind", [ConsultKind.ADVICE, ConsultKind.FOLLOW_UP], ids=str)
def test_invite_into_a_consult_that_is_not_a_referral_is_refused(kind: ConsultKind) -> None:
    with pytest.raises(RuleViolation, match="only referral consults take invited specialists") as info:
        check_invite(invite(), consult(kind=kind), specialist(), NOW)
    assert info.value.code == "not_a_referral"


@pytest.mark.parametrize(
    "status", [ConsultStatus.ENDED, ConsultStatus.CANCELLED, ConsultStatus.NO_SHOW], ids=str
)
def test_invite_into_a_closed_consult_is_refused(status: ConsultStatus) -> None:
    with pytest.raises(Conflict, match=f"consult {CONSULT} is {status.value}") as info:
        check_invite(invite(), referral(status), specialist(), NOW)
    assert info.value.code == "consult_closed"


def test_unverified_specialist_may_not_join_through_an_invite() -> None:
    # Real names first (互联网诊疗管理办法 art. 25): a link must not let an unverified specialist
    # into a consult where the resident's record is shared.
    with pytest.raises(AccessDenied):
        check_invite(invite(), referral(), specialist(verified=False), NOW)
