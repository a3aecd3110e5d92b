"""Residents (FHIR Patient), their conditions and the real-identity rules for their ID numbers."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import date

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_PATTERN = re.compile(r"^\d{17}[\dX]$")
_PHONE_PATTERN = re.compile(r"^1\d{10}$")


class Sex(enum.StrEnum):
    """Administrative sex as recorded on the ID card (FHIR Patient.gender)."""

    MALE = "male"
    FEMALE = "female"


def id_number_check_digit(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits of a resident ID number."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def normalize_id_number(raw: str) -> str:
    """Return the canonical form of an 18-character ID number or raise `ValueError` saying why not."""
    value = raw.strip().upper()
    if not _ID_PATTERN.match(value):
        raise ValueError("ID number must be 17 digits followed by a digit or X")
    if id_number_check_digit(value[:17]) != value[17]:
        raise ValueError("ID number check digit does not match (GB 11643)")
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError as err:
        raise ValueError("ID number does not contain a valid birth date") from err
    return value


def mask_id_number(value: str) -> str:
    """Show the region's first 3 and last 4 characters only, as Chinese forms do."""
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def validate_phone(raw: str) -> str:
    """A mainland mobile number: 11 digits starting with 1."""
    value = raw.strip().replace(" ", "").replace("-", "")
    if not _PHONE_PATTERN.match(value):
        raise ValueError("phone must be an 11-digit mobile number starting with 1")
    return value


def age_on(birth_date: date, day: date) -> int:
    """Full years of age on `day`."""
    before_birthday = (day.month, day.day) < (birth_date.month, birth_date.day)
    return day.year - birth_date.year - int(before_birthday)


@dataclass(frozen=True)
class Condition:
    """A diagnosed condition (FHIR Condition); only offline-diagnosed ones qualify for online 复诊."""

    id: int
    resident_id: int
    name: str
    code: str | None
    diagnosed_offline: bool
    diagnosed_on: date | None
    diagnosed_at: str | None = None
    active: bool = True

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError(f"condition name must not be blank, got {self.name!r}")
        if self.diagnosed_offline and self.diagnosed_on is None:
            raise ValueError("an offline diagnosis needs the date it was made (diagnosed_on)")


@dataclass(frozen=True)
class Resident:
    """A resident served by the community (FHIR Patient); the ID number is only ever held masked here."""

    id: int
    name: str
    sex: Sex
    birth_date: date
    id_number_masked: str
    phone: str | None = None
    address: str | None = None
    tags: tuple[str, ...] = ()
    allergies: tuple[str, ...] = ()
    conditions: tuple[Condition, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError(f"resident name must not be blank, got {self.name!r}")

    def age_on(self, day: date) -> int:
        """Full years of age on `day`."""
        return age_on(self.birth_date, day)
