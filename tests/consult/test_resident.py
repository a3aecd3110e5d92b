"""Resident identity rules: GB 11643 ID numbers, masking, mobile numbers, age, conditions."""

from __future__ import annotations

from datetime import date

import pytest

from consult.resident import (
    Condition,
    Resident,
    Sex,
    age_on,
    id_number_check_digit,
    mask_id_number,
    normalize_id_number,
    validate_phone,
)

# The worked examples of GB 11643-1999, plus numbers whose check digits were computed by hand.
STANDARD_WITH_X = "11010519491231002X"
STANDARD_DIGIT = "440524188001010014"
LEAP_DAY_2000 = "110105200002290013"


@pytest.mark.parametrize(
    ("first17", "check"),
    [
        ("11010519491231002", "X"),
        ("44052418800101001", "4"),
        ("31011519850612443", "0"),
        ("31010119900307124", "9"),
        ("31010119900307125", "7"),
    ],
)
def test_check_digit_follows_gb_11643(first17: str, check: str) -> None:
    assert id_number_check_digit(first17) == check


@pytest.mark.parametrize("raw", [STANDARD_WITH_X, STANDARD_DIGIT, LEAP_DAY_2000, "310115198506124430"])
def test_valid_id_numbers_are_accepted_unchanged(raw: str) -> None:
    assert normalize_id_number(raw) == raw


def test_lowercase_x_and_surrounding_spaces_are_normalised() -> None:
    assert normalize_id_number("  11010519491231002x ") == STANDARD_WITH_X


def test_wrong_check_digit_is_refused_naming_gb_11643() -> None:
    with pytest.raises(ValueError, match=r"check digit does not match \(GB 11643\)"):
        normalize_id_number("110105194912310021")


def test_x_where_a_digit_is_due_is_refused() -> None:
    with pytest.raises(ValueError, match="check digit"):
        normalize_id_number("44052418800101001X")


@pytest.mark.parametrize(
    "raw",
    [
        "110105199902290013",  # 29 February 1999 does not exist; check digit is right
        "110105199013010018",  # month 13; check digit is right
    ],
)
def test_impossible_birth_date_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="valid birth date"):
        normalize_id_number(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "11010519491231002",  # 17 characters
        "11010519491231002X1",  # 19 characters
        "110105491231002",  # old 15-digit form
        "1101051949123100X2",  # X not in last place
        "11010519491231002Y",
        "",
    ],
)
def test_wrong_shape_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="17 digits followed by a digit or X"):
        normalize_id_number(raw)


def test_mask_keeps_first_three_and_last_four() -> None:
    masked = mask_id_number(STANDARD_WITH_X)
    assert masked == "110***********002X"
    assert len(masked) == 18
    assert "19491231" not in masked


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800138000", "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("138-0013-8000", "13800138000"),
        (" 19912345678 ", "19912345678"),
    ],
)
def test_mobile_numbers_are_normalised(raw: str, expected: str) -> None:
    assert validate_phone(raw) == expected


@pytest.mark.parametrize(
    "raw", ["23800138000", "1380013800", "138001380001", "+8613800138000", "021-64041990"]
)
def test_non_mobile_numbers_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="11-digit mobile number starting with 1"):
        validate_phone(raw)


@pytest.mark.parametrize(
    ("day", "age"),
    [
        (date(2024, 3, 14), 73),  # day before the birthday
        (date(2024, 3, 15), 74),  # on the birthday
        (date(2024, 12, 31), 74),
        (date(2025, 1, 1), 74),
    ],
)
def test_age_turns_over_on_the_birthday(day: date, age: int) -> None:
    assert age_on(date(1950, 3, 15), day) == age


@pytest.mark.parametrize(
    ("day", "age"),
    [
        (date(2023, 2, 28), 22),  # no 29 February in 2023: not yet 23 on the 28th
        (date(2023, 3, 1), 23),
        (date(2024, 2, 28), 23),
        (date(2024, 2, 29), 24),
    ],
)
def test_age_of_someone_born_on_29_february(day: date, age: int) -> None:
    assert age_on(date(2000, 2, 29), day) == age


def test_newborn_is_zero_on_birth_day() -> None:
    assert age_on(date(2024, 6, 1), date(2024, 6, 1)) == 0


def _resident(**overrides: object) -> Resident:
    fields: dict[str, object] = {
        "id": 1,
        "name": "王秀英",
        "sex": Sex.FEMALE,
        "birth_date": date(1948, 10, 2),
        "id_number_masked": mask_id_number(STANDARD_WITH_X),
    }
    fields.update(overrides)
    return Resident(**fields)  # type: ignore[arg-type]


def test_resident_age_uses_birth_date() -> None:
    resident = _resident()
    assert resident.age_on(date(2024, 10, 1)) == 75
    assert resident.age_on(date(2024, 10, 2)) == 76


@pytest.mark.parametrize("name", ["", "   "])
def test_resident_without_a_name_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="resident name must not be blank"):
        _resident(name=name)


def test_offline_diagnosis_needs_its_date() -> None:
    with pytest.raises(ValueError, match="diagnosed_on"):
        Condition(id=1, resident_id=1, name="高血压", code="I10", diagnosed_offline=True, diagnosed_on=None)


def test_condition_reported_without_offline_diagnosis_needs_no_date() -> None:
    condition = Condition(
        id=1, resident_id=1, name="失眠", code=None, diagnosed_offline=False, diagnosed_on=None
    )
    assert condition.active is True
    assert condition.diagnosed_offline is False


def test_condition_without_a_name_is_refused() -> None:
    with pytest.raises(ValueError, match="condition name must not be blank"):
        Condition(
            id=1, resident_id=1, name=" ", code="E11", diagnosed_offline=True, diagnosed_on=date(2020, 1, 1)
        )
