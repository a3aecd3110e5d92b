"""What in a resident's message alerts someone: red-flag words, dangerous readings, sensitive words."""

from __future__ import annotations

import pytest

from consult.alerts import (
    DEFAULT_RED_FLAGS,
    AlertKind,
    Finding,
    dangerous_readings,
    red_flags,
    sensitive_words,
)

# --- red flags --------------------------------------------------------------------------------


def test_red_flag_word_in_a_message_is_found() -> None:
    assert red_flags("我父亲早上起来突然胸痛，出冷汗", DEFAULT_RED_FLAGS) == [
        Finding(AlertKind.RED_FLAG, "胸痛")
    ]


def test_every_red_flag_in_the_message_is_found() -> None:
    found = red_flags("她刚才晕倒了，现在意识不清", DEFAULT_RED_FLAGS)
    assert {f.what for f in found} == {"晕倒", "意识不清"}
    assert all(f.kind is AlertKind.RED_FLAG for f in found)


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        ("My mother has CHEST PAIN since this morning", "chest pain"),
        ("I think he had a Stroke", "stroke"),
        ("She CAN'T BREATHE properly", "can't breathe"),
    ],
)
def test_red_flags_are_found_whatever_the_case(text: str, flag: str) -> None:
    assert red_flags(text, DEFAULT_RED_FLAGS) == [Finding(AlertKind.RED_FLAG, flag)]


def test_a_team_flag_written_in_capitals_matches_lower_case_text() -> None:
    assert red_flags("he fainted after lunch", ("Fainted",)) == [Finding(AlertKind.RED_FLAG, "Fainted")]


def test_ordinary_message_raises_no_red_flag() -> None:
    assert red_flags("医生您好，我想问一下降压药饭前吃还是饭后吃", DEFAULT_RED_FLAGS) == []


def test_the_teams_own_list_replaces_the_default() -> None:
    team_flags = ("心慌", "血糖仪显示HI")
    assert red_flags("这两天老是心慌", team_flags) == [Finding(AlertKind.RED_FLAG, "心慌")]
    # A default word the team left out of its list raises nothing for that team.
    assert red_flags("有点胸痛", team_flags) == []


def test_a_blank_flag_in_the_list_does_not_flag_every_message() -> None:
    assert red_flags("医生您好", ("", "心慌")) == []


# --- dangerous readings -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("血压 180/100", "血压 180/100 mmHg"),
        ("今天量的血压是185/100，头晕", "血压 185/100 mmHg"),
        ("血压 170/110", "血压 170/110 mmHg"),
        ("血压：89/60", "血压 89/60 mmHg"),
        ("血压 185／100", "血压 185/100 mmHg"),
        ("血压185 ／ 100", "血压 185/100 mmHg"),
        ("BP 185/100", "血压 185/100 mmHg"),
        ("bp 80/50 this morning", "血压 80/50 mmHg"),
    ],
    ids=[
        "systolic 180",
        "in a sentence",
        "diastolic 110",
        "systolic 89",
        "full-width slash",
        "full-width slash with spaces",
        "BP",
        "bp low",
    ],
)
def test_dangerous_blood_pressure_is_flagged(text: str, what: str) -> None:
    assert dangerous_readings(text) == [Finding(AlertKind.READING, what)]


@pytest.mark.parametrize(
    "text",
    ["血压 150/95", "血压 179/109", "血压 90/60", "血压 120/80", "BP 150/95"],
    ids=["150/95", "179/109", "90/60", "120/80", "BP 150/95"],
)
def test_high_but_not_critical_blood_pressure_is_not_flagged(text: str) -> None:
    assert dangerous_readings(text) == []


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("血糖 16.7", "血糖 16.7 mmol/L"),
        ("早上空腹血糖22.3，口很干", "血糖 22.3 mmol/L"),
        ("血糖：3.9", "血糖 3.9 mmol/L"),
        ("刚测血糖 2.8 手发抖", "血糖 2.8 mmol/L"),
        ("glucose 18", "血糖 18.0 mmol/L"),
    ],
    ids=["16.7", "22.3 in a sentence", "3.9", "2.8", "glucose 18"],
)
def test_dangerous_glucose_is_flagged(text: str, what: str) -> None:
    assert dangerous_readings(text) == [Finding(AlertKind.READING, what)]


@pytest.mark.parametrize(
    "text", ["血糖 7.8", "血糖 16.6", "血糖 4.0", "餐后血糖 11.1"], ids=["7.8", "16.6", "4.0", "11.1"]
)
def test_glucose_in_the_usual_range_is_not_flagged(text: str) -> None:
    assert dangerous_readings(text) == []


def test_every_dangerous_reading_in_a_message_is_flagged() -> None:
    found = dangerous_readings("血压 190/115，血糖 18.5，昨天血压 150/95")
    assert found == [
        Finding(AlertKind.READING, "血压 190/115 mmHg"),
        Finding(AlertKind.READING, "血糖 18.5 mmol/L"),
    ]


def test_numbers_that_are_not_readings_are_not_flagged() -> None:
    assert dangerous_readings("我明天 18:30 到，电话 13800138000，降压药吃了 2/3 盒") == []


# --- sensitive words --------------------------------------------------------------------------


def test_sensitive_word_is_found_for_compliance() -> None:
    assert sensitive_words("能不能加个微信私下转账", ("转账", "红包")) == [
        Finding(AlertKind.SENSITIVE_WORD, "转账")
    ]


def test_sensitive_words_are_found_whatever_the_case() -> None:
    found = sensitive_words("Please send me your WeChat, I can pay CASH", ("wechat", "Cash"))
    assert found == [Finding(AlertKind.SENSITIVE_WORD, "wechat"), Finding(AlertKind.SENSITIVE_WORD, "Cash")]


def test_message_without_sensitive_words_raises_nothing() -> None:
    assert sensitive_words("谢谢医生，我按时吃药", ("转账", "红包", "")) == []


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("Bp 185/100 this morning", "血压 185/100 mmHg"),
        ("Glucose 18.5", "血糖 18.5 mmol/L"),
        ("今天高压185 低压100，头有点晕", "血压 185/100 mmHg"),
        ("收缩压 85，舒张压 50", "血压 85/50 mmHg"),
    ],
)
def test_readings_in_other_spellings_are_found(text: str, what: str) -> None:
    assert [f.what for f in dangerous_readings(text)] == [what]


def test_spoken_normal_reading_is_not_flagged() -> None:
    assert dangerous_readings("高压135 低压85") == []
