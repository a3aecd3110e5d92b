"""Tag broadcast: which residents of the team a doctor's filtered message reaches."""

from __future__ import annotations

from datetime import date

import pytest

from consult.broadcast import Audience
from consult.resident import Condition, Resident, Sex

TODAY = date(2024, 6, 15)


def condition(name: str, *, active: bool = True, id: int = 1) -> Condition:
    return Condition(
        id=id,
        resident_id=100,
        name=name,
        code=None,
        diagnosed_offline=True,
        diagnosed_on=date(2019, 3, 1),
        active=active,
    )


def resident(
    *,
    birth_date: date = date(1950, 1, 1),
    tags: tuple[str, ...] = (),
    conditions: tuple[Condition, ...] = (),
) -> Resident:
    return Resident(
        id=100,
        name="王秀英",
        sex=Sex.FEMALE,
        birth_date=birth_date,
        id_number_masked="310***********1234",
        tags=tags,
        conditions=conditions,
    )


# --- choosing an audience -------------------------------------------------------------------


def test_audience_with_no_criterion_is_refused() -> None:
    with pytest.raises(ValueError, match="choose at least one tag, condition or age bound, or all_residents"):
        Audience()


def test_broadcast_to_everyone_is_a_choice_and_reaches_everyone() -> None:
    everyone = Audience(all_residents=True)
    assert everyone.matches(resident(), TODAY)
    assert everyone.matches(resident(birth_date=date(2020, 5, 1), tags=("儿童",)), TODAY)


@pytest.mark.parametrize(
    ("age_min", "age_max", "bad"),
    [(-1, None, -1), (None, 131, 131), (0, 200, 200)],
    ids=["min -1", "max 131", "max 200"],
)
def test_age_bounds_outside_0_to_130_are_refused(age_min: int | None, age_max: int | None, bad: int) -> None:
    with pytest.raises(ValueError, match=f"age bounds must be between 0 and 130, got {bad}"):
        Audience(age_min=age_min, age_max=age_max)


def test_age_bounds_of_0_and_130_are_accepted() -> None:
    assert Audience(age_min=0, age_max=130).matches(resident(), TODAY)


def test_age_band_upside_down_is_refused() -> None:
    with pytest.raises(ValueError, match="age_min 70 is above age_max 65"):
        Audience(age_min=70, age_max=65)


# --- tags ---------------------------------------------------------------------------------------


def test_audience_matches_a_resident_with_any_of_its_tags() -> None:
    vulnerable = Audience(tags=("高血压", "65岁以上"))
    assert vulnerable.matches(resident(tags=("糖尿病", "65岁以上")), TODAY)
    assert vulnerable.matches(resident(tags=("高血压",)), TODAY)


def test_audience_leaves_out_residents_without_its_tags() -> None:
    vulnerable = Audience(tags=("高血压", "65岁以上"))
    assert not vulnerable.matches(resident(tags=("孕妇",)), TODAY)
    assert not vulnerable.matches(resident(), TODAY)


def test_tags_match_whole_tags_not_parts_of_them() -> None:
    assert not Audience(tags=("高血压",)).matches(resident(tags=("高血压高危",)), TODAY)


# --- conditions -------------------------------------------------------------------------------


def test_condition_matches_by_part_of_its_name() -> None:
    diabetes = Audience(conditions=("糖尿病",))
    assert diabetes.matches(resident(conditions=(condition("2型糖尿病"),)), TODAY)


def test_any_of_the_conditions_matches() -> None:
    chronic = Audience(conditions=("高血压", "糖尿病"))
    with_hypertension = resident(conditions=(condition("慢性胃炎", id=1), condition("原发性高血压", id=2)))
    assert chronic.matches(with_hypertension, TODAY)


def test_resolved_condition_does_not_match() -> None:
    diabetes = Audience(conditions=("糖尿病",))
    assert not diabetes.matches(resident(conditions=(condition("妊娠期糖尿病", active=False),)), TODAY)


def test_condition_filter_looks_at_conditions_not_tags() -> None:
    diabetes = Audience(conditions=("糖尿病",))
    assert not diabetes.matches(resident(tags=("糖尿病",)), TODAY)
    assert not diabetes.matches(resident(conditions=(condition("高血压"),)), TODAY)


# --- age band -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth_date", "matches"),
    [
        (date(1959, 6, 16), False),  # 64 today, 65 tomorrow
        (date(1959, 6, 15), True),  # 65th birthday today
        (date(1954, 6, 16), True),  # 69
        (date(1954, 6, 15), True),  # 70th birthday today
        (date(1953, 6, 15), False),  # 71
    ],
    ids=["64", "65 today", "69", "70 today", "71"],
)
def test_age_band_is_inclusive_on_both_ends(birth_date: date, matches: bool) -> None:
    assert Audience(age_min=65, age_max=70).matches(resident(birth_date=birth_date), TODAY) is matches


def test_age_is_counted_on_the_day_given() -> None:
    over_65 = Audience(age_min=65)
    born = resident(birth_date=date(1959, 6, 20))
    assert not over_65.matches(born, date(2024, 6, 19))
    assert over_65.matches(born, date(2024, 6, 20))


def test_children_band_with_only_an_upper_bound() -> None:
    children = Audience(age_max=6)
    assert children.matches(resident(birth_date=date(2018, 6, 16)), TODAY)  # 5
    assert not children.matches(resident(birth_date=date(2017, 6, 15)), TODAY)  # 7


# --- criteria together ----------------------------------------------------------------------


def test_every_given_criterion_must_hold() -> None:
    elderly_hypertensive = Audience(tags=("高血压",), age_min=65)
    assert elderly_hypertensive.matches(resident(birth_date=date(1950, 1, 1), tags=("高血压",)), TODAY)
    assert not elderly_hypertensive.matches(resident(birth_date=date(1980, 1, 1), tags=("高血压",)), TODAY)
    assert not elderly_hypertensive.matches(resident(birth_date=date(1950, 1, 1), tags=("糖尿病",)), TODAY)
