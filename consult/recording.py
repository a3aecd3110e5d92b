"""Recording a consult: who must consent, when recording may run, and its timeline.

Recording is requested by the doctor and runs only while every participant present has consented
(PIPL arts. 28-29: health data is sensitive and needs separate consent). Each participant answers
for themselves, in plain words (`CONSENT_TEXT`); a proxy answers for the resident they act for when
the binding grants the consent scope. A resident may give standing consent for follow-ups on their
contract; it counts for them (not for anyone else present) until withdrawn. A newcomer who has not
consented pauses the recording until they do; a withdrawal pauses it at once. Both are marked on the
recording's timeline, which the compliance review shows beside the tracks.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from consult.access import Actor
from consult.errors import AccessDenied
from consult.roles import ProxyScope, Role

#: The text a participant is shown, by version; a consent record names the version it answered.
CONSENT_TEXT_VERSION = "recording-v1"
CONSENT_TEXT: Mapping[str, Mapping[str, str]] = {
    "recording-v1": {
        "zh": (
            "医生请求为本次问诊录音录像。录下的是本次问诊中各位的声音和画面。"
            "只有质控人员和您本人（或您授权的家属）可以查看，每次查看都有记录。"
            "录像加密保存 3 年后销毁。您可以拒绝，也可以随时撤回同意；拒绝不影响本次问诊。"
        ),
        "en": (
            "The doctor asks to record this consult: the voices and pictures of everyone in it. "
            "Only compliance officers and you (or a family member you authorised) may view it, and "
            "every viewing is logged. It is kept encrypted for 3 years, "
            "then destroyed. You may say no, or withdraw at any time; saying no does not affect "
            "the consult."
        ),
    }
}


class Decision(enum.StrEnum):
    """A participant's answer (FHIR Consent.provision.type permit/deny)."""

    GRANTED = "granted"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class ConsentRecord:
    """One answer: who, for whom, which consult, what, when, and the text version shown."""

    consult_id: int
    user_id: int
    decision: Decision
    decided_at: datetime
    text_version: str
    #: Set when a proxy answered for the resident they act for.
    on_behalf_of_resident_id: int | None = None

    def __post_init__(self) -> None:
        if self.text_version not in CONSENT_TEXT:
            raise ValueError(f"unknown consent text version {self.text_version!r}")


class RecordingStatus(enum.StrEnum):
    """Where a recording stands."""

    WAITING = "waiting"  # requested; waiting for everyone's consent
    RUNNING = "running"
    PAUSED = "paused"  # someone present has not consented, or withdrew
    ENDED = "ended"  # stopped, or the consult ended
    INCOMPLETE = "incomplete"  # the recorder died; segments written stay playable


class TimelineKind(enum.StrEnum):
    """What happened to a recording, for its timeline."""

    REQUESTED = "requested"
    STARTED = "started"
    PAUSED = "paused"
    RESUMED = "resumed"
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass(frozen=True)
class TimelineEntry:
    """One mark on the recording's timeline; `user_ids` are whom it was about (e.g. who has not consented)."""

    at: datetime
    kind: TimelineKind
    reason: str = ""
    user_ids: tuple[int, ...] = ()


def may_view_recording(actor: Actor, resident_id: int) -> bool:
    """Compliance officers review every recording; a resident sees their own, and a family member
    with the view-records scope those of the resident they act for. Nobody else (the consent text
    says so)."""
    if actor.role is Role.COMPLIANCE:
        return True
    if actor.role is Role.RESIDENT:
        return actor.resident_id == resident_id
    if actor.role is Role.PROXY:
        binding = actor.binding_for(resident_id)
        return binding is not None and binding.allows(ProxyScope.VIEW_RECORDS)
    return False


def may_answer(actor: Actor, resident_id: int) -> int | None:
    """Whether `actor` answers for themselves only (None) or also for the resident (the resident's id);
    raises for someone who may not answer at all."""
    if actor.role is Role.PROXY:
        binding = actor.binding_for(resident_id)
        if binding is None or not binding.allows(ProxyScope.CONSENT):
            raise AccessDenied("this family member may not consent for the resident", code="no_consent_scope")
        return resident_id
    return None


def latest_decisions(records: Iterable[ConsentRecord]) -> dict[int, Decision]:
    """Each user's last answer in the consult (a later answer replaces an earlier one)."""
    latest: dict[int, ConsentRecord] = {}
    for record in records:
        held = latest.get(record.user_id)
        if held is None or record.decided_at >= held.decided_at:
            latest[record.user_id] = record
    return {uid: r.decision for uid, r in latest.items()}


def not_consented(
    present: Iterable[int], decisions: Mapping[int, Decision], standing: Iterable[int] = ()
) -> tuple[int, ...]:
    """Who among those present has not (or no longer) consented, in id order."""
    covered = set(standing)
    missing = []
    for user_id in sorted(set(present)):
        decision = decisions.get(user_id)
        if decision is Decision.GRANTED:
            continue
        if decision is None and user_id in covered:
            continue  # standing consent counts until they answer otherwise here
        missing.append(user_id)
    return tuple(missing)


def may_record(
    present: Iterable[int], decisions: Mapping[int, Decision], standing: Iterable[int] = ()
) -> bool:
    """Recording may run: someone is present and everyone present has consented."""
    people = set(present)
    return bool(people) and not not_consented(people, decisions, standing)


def next_status(
    status: RecordingStatus,
    present: Iterable[int],
    decisions: Mapping[int, Decision],
    now: datetime,
    standing: Iterable[int] = (),
) -> tuple[RecordingStatus, TimelineEntry | None]:
    """The recording's status after a change of who is present or of an answer, and the mark the
    change leaves on the timeline (None when nothing changes)."""
    if status in (RecordingStatus.ENDED, RecordingStatus.INCOMPLETE):
        return status, None
    missing = not_consented(present, decisions, standing)
    allowed = not missing and bool(set(present))
    if allowed and status is RecordingStatus.WAITING:
        return RecordingStatus.RUNNING, TimelineEntry(now, TimelineKind.STARTED, "everyone present consented")
    if allowed and status is RecordingStatus.PAUSED:
        return RecordingStatus.RUNNING, TimelineEntry(now, TimelineKind.RESUMED, "everyone present consented")
    if not allowed and status is RecordingStatus.RUNNING:
        refused = any(decisions.get(u) in (Decision.REFUSED, Decision.WITHDRAWN) for u in missing)
        reason = "consent refused or withdrawn" if refused else "someone present has not consented"
        return RecordingStatus.PAUSED, TimelineEntry(now, TimelineKind.PAUSED, reason, missing)
    return status, None
