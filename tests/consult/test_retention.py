"""Retention: 3 years for recordings and chat, 15 for medical records, never less; a hold blocks destruction."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from consult.retention import LegalHold, RecordKind, RetentionPolicy, add_years, may_destroy

SET = datetime(2027, 1, 5, tzinfo=UTC)


def test_default_policy_follows_the_regulation() -> None:
    policy = RetentionPolicy()
    ended = date(2026, 11, 20)
    assert policy.expires_on(RecordKind.RECORDING, ended) == date(2029, 11, 20)
    assert policy.expires_on(RecordKind.CHAT, ended) == date(2029, 11, 20)
    assert policy.expires_on(RecordKind.MEDICAL_RECORD, ended) == date(2041, 11, 20)


def test_a_policy_may_keep_longer_never_shorter() -> None:
    assert RetentionPolicy(recording_years=5).expires_on(RecordKind.RECORDING, date(2026, 1, 1)) == date(
        2031, 1, 1
    )
    with pytest.raises(ValueError, match="at least 3 years"):
        RetentionPolicy(recording_years=2)
    with pytest.raises(ValueError, match="at least 15 years"):
        RetentionPolicy(medical_record_years=10)


def test_leap_day_is_kept_to_the_first_of_march() -> None:
    assert add_years(date(2028, 2, 29), 3) == date(2031, 3, 1)
    assert add_years(date(2028, 2, 29), 4) == date(2032, 2, 29)


def test_destroy_only_after_expiry_and_without_an_active_hold() -> None:
    expires = date(2029, 11, 20)
    assert not may_destroy(expires, date(2029, 11, 19), [])
    assert may_destroy(expires, expires, [])
    hold = LegalHold(1, "投诉调查中", set_by_user_id=5, set_at=SET)
    assert not may_destroy(expires, date(2030, 1, 1), [hold])
    released = LegalHold(
        1, "投诉调查中", 5, SET, released_at=datetime(2030, 2, 1, tzinfo=UTC), released_by_user_id=5
    )
    assert may_destroy(expires, date(2030, 2, 2), [released])
    with pytest.raises(ValueError, match="reason"):
        LegalHold(2, "  ", 5, SET)
