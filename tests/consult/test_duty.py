"""Off-duty mode (下班模式): who counts as on duty, when they are back, the auto-reply, who is on call."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from consult.duty import (
    DEFAULT_HOURS,
    EMERGENCY_PATH,
    DutyStatus,
    Shift,
    TeamMember,
    auto_reply,
    back_on_duty,
    doctors_on_duty,
    is_on_duty,
    next_on_duty,
    on_call,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A local time in the week of Monday 3 June 2024 (day 3 = Monday ... day 9 = Sunday)."""
    return datetime(2024, 6, day, hour, minute, second, tzinfo=SHANGHAI)


MONDAY, TUESDAY, WEDNESDAY, FRIDAY, SATURDAY, SUNDAY, NEXT_MONDAY = 3, 4, 5, 7, 8, 9, 10


def member(
    user_id: int,
    name: str,
    *,
    kind: str = "doctor",
    team_role: str = "doctor",
    status: DutyStatus = DutyStatus.AUTO,
    hours: tuple[Shift, ...] = DEFAULT_HOURS,
) -> TeamMember:
    return TeamMember(user_id=user_id, name=name, kind=kind, team_role=team_role, status=status, hours=hours)


LEADER = member(20, "张医生", team_role="leader")
DOCTOR = member(22, "陈医生")
NURSE = member(21, "李护士", kind="nurse", team_role="nurse")


# --- shifts ---------------------------------------------------------------------------------


def test_default_hours_are_weekdays_8_to_17_and_saturday_morning() -> None:
    assert [(s.weekday, s.start, s.end) for s in DEFAULT_HOURS] == [
        *((d, time(8), time(17)) for d in range(5)),
        (5, time(8), time(12)),
    ]


@pytest.mark.parametrize("weekday", [-1, 7])
def test_shift_on_no_weekday_is_refused(weekday: int) -> None:
    with pytest.raises(ValueError, match=f"weekday must be 0 \\(Monday\\) to 6 \\(Sunday\\), got {weekday}"):
        Shift(weekday, time(8), time(17))


@pytest.mark.parametrize("end", [time(8), time(7, 59)], ids=["empty", "backwards"])
def test_shift_ending_at_or_before_its_start_is_refused(end: time) -> None:
    with pytest.raises(ValueError, match=f"shift end {end} must be after its start 08:00:00"):
        Shift(0, time(8), end)


# --- is_on_duty -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "on"),
    [
        (at(MONDAY, 7, 59, 59), False),
        (at(MONDAY, 8), True),  # start is inclusive
        (at(MONDAY, 12, 30), True),
        (at(MONDAY, 16, 59, 59), True),
        (at(MONDAY, 17), False),  # end is exclusive
        (at(MONDAY, 23), False),
        (at(FRIDAY, 16), True),
        (at(SATURDAY, 7, 59), False),
        (at(SATURDAY, 8), True),
        (at(SATURDAY, 11, 59, 59), True),
        (at(SATURDAY, 12), False),
        (at(SATURDAY, 15), False),
        (at(SUNDAY, 10), False),
    ],
    ids=[
        "Monday before 8",
        "Monday 8:00",
        "Monday noon",
        "Monday 16:59:59",
        "Monday 17:00",
        "Monday night",
        "Friday afternoon",
        "Saturday 7:59",
        "Saturday 8:00",
        "Saturday 11:59:59",
        "Saturday 12:00",
        "Saturday afternoon",
        "Sunday morning",
    ],
)
def test_auto_status_follows_working_hours(local: datetime, on: bool) -> None:
    assert is_on_duty(DutyStatus.AUTO, DEFAULT_HOURS, local) is on


@pytest.mark.parametrize("local", [at(MONDAY, 10), at(SUNDAY, 3)], ids=["inside hours", "Sunday night"])
@pytest.mark.parametrize(
    ("status", "on"),
    [(DutyStatus.ON_DUTY, True), (DutyStatus.BUSY, True), (DutyStatus.OFF_DUTY, False)],
    ids=str,
)
def test_status_set_by_hand_wins_over_hours(status: DutyStatus, on: bool, local: datetime) -> None:
    assert is_on_duty(status, DEFAULT_HOURS, local) is on


def test_auto_status_without_hours_is_never_on_duty() -> None:
    assert is_on_duty(DutyStatus.AUTO, (), at(MONDAY, 10)) is False


# --- next_on_duty ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "back"),
    [
        (at(MONDAY, 6, 30), at(MONDAY, 8)),
        (at(MONDAY, 8), at(TUESDAY, 8)),  # already on: the next start is tomorrow's
        (at(MONDAY, 20), at(TUESDAY, 8)),
        (at(FRIDAY, 17), at(SATURDAY, 8)),
        (at(SATURDAY, 12), at(NEXT_MONDAY, 8)),
        (at(SATURDAY, 23, 59), at(NEXT_MONDAY, 8)),
        (at(SUNDAY, 9), at(NEXT_MONDAY, 8)),
    ],
    ids=[
        "later today",
        "at the start of today's shift",
        "tomorrow",
        "Friday evening to Saturday morning",
        "Saturday noon over the weekend",
        "Saturday night",
        "Sunday",
    ],
)
def test_next_on_duty_with_default_hours(local: datetime, back: datetime) -> None:
    found = next_on_duty(DEFAULT_HOURS, local)
    assert found == back
    assert found is not None and found.tzinfo is SHANGHAI


def test_next_on_duty_finds_the_afternoon_shift_after_a_lunch_break() -> None:
    hours = (Shift(0, time(8), time(11, 30)), Shift(0, time(14), time(17, 30)))
    assert next_on_duty(hours, at(MONDAY, 12)) == at(MONDAY, 14)


def test_next_on_duty_for_a_weekly_clinic_is_a_week_later() -> None:
    wednesdays = (Shift(2, time(9), time(11)),)
    assert next_on_duty(wednesdays, at(WEDNESDAY, 11)) == datetime(2024, 6, 12, 9, tzinfo=SHANGHAI)


def test_next_on_duty_without_hours_is_none() -> None:
    assert next_on_duty((), at(MONDAY, 20)) is None


# --- auto_reply ---------------------------------------------------------------------------------


def test_auto_reply_names_the_doctor_the_time_back_and_the_default_emergency_path() -> None:
    reply = auto_reply("张医生", at(NEXT_MONDAY, 8), None)
    assert reply.startswith("张医生正在休息")
    assert "预计 06月10日 08:00 起回复" in reply
    assert "消息已送达" in reply
    assert reply.endswith(EMERGENCY_PATH)
    assert "拨打 120" in reply


def test_auto_reply_gives_the_teams_own_emergency_path_instead_of_the_default() -> None:
    path = "紧急情况请拨打 120，或前往闵行区中心医院急诊（莘松路 170 号）。"
    reply = auto_reply("张医生", at(TUESDAY, 8), path)
    assert reply.endswith(path)
    assert EMERGENCY_PATH not in reply


def test_auto_reply_with_a_blank_team_path_falls_back_to_the_default() -> None:
    assert auto_reply("张医生", at(TUESDAY, 8), "").endswith(EMERGENCY_PATH)


def test_auto_reply_without_a_time_back_promises_none() -> None:
    reply = auto_reply("您的家庭医生", None, None)
    assert reply.startswith("您的家庭医生正在休息。")
    assert "预计" not in reply
    assert "120" in reply


# --- doctors_on_duty / on_call / back_on_duty ---------------------------------------------------


def test_doctors_on_duty_lists_the_leader_first_and_no_nurses() -> None:
    members = [DOCTOR, NURSE, LEADER]
    assert [m.name for m in doctors_on_duty(members, at(MONDAY, 10))] == ["张医生", "陈医生"]


def test_doctors_on_duty_counts_busy_and_leaves_out_off_duty() -> None:
    busy = member(23, "赵医生", status=DutyStatus.BUSY)
    off = member(24, "孙医生", status=DutyStatus.OFF_DUTY)
    on_sunday = member(25, "周医生", status=DutyStatus.ON_DUTY)
    assert [m.name for m in doctors_on_duty([busy, off, on_sunday, LEADER], at(SUNDAY, 10))] == [
        "赵医生",
        "周医生",
    ]


def test_nobody_is_on_duty_on_sunday_with_default_hours() -> None:
    assert doctors_on_duty([LEADER, DOCTOR, NURSE], at(SUNDAY, 10)) == []


def test_on_call_is_the_leader_when_on_duty() -> None:
    assert on_call([DOCTOR, NURSE, LEADER], at(MONDAY, 10)) == LEADER


def test_on_call_is_an_on_duty_doctor_when_the_leader_is_off() -> None:
    leader_off = member(20, "张医生", team_role="leader", status=DutyStatus.OFF_DUTY)
    assert on_call([leader_off, NURSE, DOCTOR], at(MONDAY, 10)) == DOCTOR


def test_on_call_is_the_leader_when_nobody_is_on_duty() -> None:
    assert on_call([DOCTOR, NURSE, LEADER], at(SUNDAY, 3)) == LEADER


def test_on_call_in_a_team_without_a_leader_is_a_doctor() -> None:
    assert on_call([NURSE, DOCTOR], at(SUNDAY, 3)) == DOCTOR


def test_a_nurse_on_duty_is_never_on_call() -> None:
    nurse_on = member(21, "李护士", kind="nurse", team_role="nurse", status=DutyStatus.ON_DUTY)
    assert on_call([nurse_on, LEADER], at(SUNDAY, 3)) == LEADER
    assert on_call([nurse_on], at(SUNDAY, 3)) is None


def test_on_call_in_an_empty_team_is_nobody() -> None:
    assert on_call([], at(MONDAY, 10)) is None


def test_back_on_duty_is_the_first_doctor_back() -> None:
    saturday_off = tuple(s for s in DEFAULT_HOURS if s.weekday != 5)
    leader = member(20, "张医生", team_role="leader", hours=saturday_off)
    saturdays = member(22, "陈医生", hours=(Shift(5, time(9), time(12)),))
    assert back_on_duty([leader, saturdays], at(FRIDAY, 18)) == at(SATURDAY, 9)
    assert back_on_duty([leader, saturdays], at(SATURDAY, 12)) == at(NEXT_MONDAY, 8)


def test_back_on_duty_ignores_nurses_hours() -> None:
    sunday_nurse = member(21, "李护士", kind="nurse", team_role="nurse", hours=(Shift(6, time(8), time(12)),))
    assert back_on_duty([sunday_nurse, LEADER], at(SATURDAY, 18)) == at(NEXT_MONDAY, 8)


def test_back_on_duty_is_unknown_when_no_doctor_has_hours() -> None:
    assert back_on_duty([member(20, "张医生", team_role="leader", hours=()), NURSE], at(SUNDAY, 3)) is None


def test_back_on_duty_does_not_promise_a_doctor_switched_off_by_hand() -> None:
    away = member(20, "张医生", team_role="leader", status=DutyStatus.OFF_DUTY)
    assert back_on_duty([away, NURSE], at(FRIDAY, 18)) is None
    assert back_on_duty([away, DOCTOR], at(FRIDAY, 18)) == at(SATURDAY, 8)
