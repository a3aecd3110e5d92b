"""What in a message needs a person's attention now: red-flag words, dangerous readings, sensitive words."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass

#: Red flags when a team has not set its own list.
DEFAULT_RED_FLAGS: tuple[str, ...] = (
    "胸痛",
    "胸闷",
    "呼吸困难",
    "昏迷",
    "晕倒",
    "抽搐",
    "大出血",
    "意识不清",
    "口角歪斜",
    "说话不清",
    "chest pain",
    "can't breathe",
    "unconscious",
    "stroke",
)

_BP = re.compile(r"(?:血压|BP)[^0-9]{0,6}(\d{2,3})\s*[/／]\s*(\d{2,3})", re.IGNORECASE)
# How people say it aloud: "高压185 低压100".
_BP_SPOKEN = re.compile(r"(?:高压|收缩压)\D{0,3}(\d{2,3})\D{0,6}(?:低压|舒张压)\D{0,3}(\d{2,3})")
_GLUCOSE = re.compile(r"(?:血糖|glucose)[^0-9]{0,6}(\d{1,2}(?:\.\d{1,2})?)", re.IGNORECASE)


class AlertKind(enum.StrEnum):
    """Why a message raised an alert, and so who sees it."""

    RED_FLAG = "red_flag"  # to the team's on-call member
    READING = "reading"  # to the team's on-call member
    SENSITIVE_WORD = "sensitive_word"  # to compliance


@dataclass(frozen=True)
class Finding:
    """One thing found in a message."""

    kind: AlertKind
    what: str


def red_flags(text: str, flags: Iterable[str]) -> list[Finding]:
    """The red-flag words the text contains (case-insensitive)."""
    lowered = text.lower()
    return [Finding(AlertKind.RED_FLAG, f) for f in flags if f and f.lower() in lowered]


def dangerous_readings(text: str) -> list[Finding]:
    """Blood pressure of 180/110 or more (hypertensive crisis) or a systolic under 90; glucose of
    16.7 mmol/L or more, or 3.9 or less (hypoglycaemia)."""
    found = []
    for match in (*_BP.finditer(text), *_BP_SPOKEN.finditer(text)):
        systolic, diastolic = int(match.group(1)), int(match.group(2))
        if systolic >= 180 or diastolic >= 110 or systolic < 90:
            found.append(Finding(AlertKind.READING, f"血压 {systolic}/{diastolic} mmHg"))
    for match in _GLUCOSE.finditer(text):
        value = float(match.group(1))
        if value >= 16.7 or value <= 3.9:
            found.append(Finding(AlertKind.READING, f"血糖 {value} mmol/L"))
    return found


def sensitive_words(text: str, words: Iterable[str]) -> list[Finding]:
    """The listed sensitive words the text contains (case-insensitive)."""
    lowered = text.lower()
    return [Finding(AlertKind.SENSITIVE_WORD, w) for w in words if w and w.lower() in lowered]
