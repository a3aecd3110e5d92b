"""Recording a consult: who must consent, when recording may run, and its timeline.

Recording is requested by the doctor and runs only while every participant present has consented
(PIPL arts. 28-29: health data is sensitive and needs separate consent). Each participant answers
for themselves, in plain words (`CONSENT_TEXT`); a proxy answers for the resident they act for when
the binding grants the consent scope. A resident (or such a proxy) may give standing consent for
follow-ups on their contract (`StandingConsent`, in its own plain words `STANDING_CONSENT_TEXT`): in a
follow-up consult it counts for them, not for anyone else present, without asking them, until they
withdraw it or answer otherwise in the call (`standing_answer`). A newcomer who has not
consented pauses the recording until they do; a withdrawal pauses it at once. Both are marked on the
recording's timeline, which the compliance review shows beside the tracks.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from consult.access import Actor, RecordAccess, record_access
from consult.consult import ConsultKind
from consult.errors import AccessDenied, Conflict, RuleViolation
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


#: The text a resident (or their family member) is shown when giving standing consent on the
#: contract, by version; the standing consent and every consult answer taken from it name the version.
STANDING_TEXT_VERSION = "standing-followup-v1"
STANDING_CONSENT_TEXT: Mapping[str, Mapping[str, str]] = {
    "standing-followup-v1": {
        "zh": (
            "我同意：在本签约期内，家庭医生团队为我做的视频随访（复诊）都可以录音录像，不必每次再问我。"
            "录下的是随访中各位的声音和画面。只有质控人员和我本人（或我授权的家属）可以查看，"
            "每次查看都有记录。录像加密保存 3 年后销毁。"
            "咨询和有上级医院专家参加的会诊不包括在内，仍会单独问我。"
            "每次录像时我都能看到“正在录像”，可以随时在通话中撤回；也可以随时在这里取消这项长期同意。"
        ),
        "en": (
            "I agree that, during this contract, my family-doctor team may record the voices and "
            "pictures of my video follow-up visits without asking me each time. Only compliance "
            "officers and I (or a family member I authorised) may view the recordings, and every "
            "viewing is logged. They are kept encrypted for 3 years, then destroyed. Advice consults "
            "and referral consults with a hospital specialist are not included: I am asked there. "
            "I always see when a recording runs and may withdraw during the call, and I may cancel "
            "this standing consent here at any time."
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
    #: Set when the answer was not asked for in the call but taken from the resident's standing
    #: consent (then `text_version` is the standing consent's text).
    standing_consent_id: int | None = None

    def __post_init__(self) -> None:
        texts = STANDING_CONSENT_TEXT if self.standing_consent_id is not None else CONSENT_TEXT
        if self.text_version not in texts:
            raise ValueError(f"unknown consent text version {self.text_version!r}")

    @property
    def from_standing(self) -> bool:
        """Whether this answer came from the resident's standing consent."""
        return self.standing_consent_id is not None


@dataclass(frozen=True)
class StandingConsent:
    """A resident's standing consent to recording their follow-up consults, given on one contract.

    Never deleted: withdrawing it sets `withdrawn_at`, so the history of what was in force when stays.
    """

    id: int
    resident_id: int
    contract_id: int
    given_by_user_id: int
    given_at: datetime
    text_version: str
    withdrawn_at: datetime | None = None
    withdrawn_by_user_id: int | None = None

    def __post_init__(self) -> None:
        if self.text_version not in STANDING_CONSENT_TEXT:
            raise ValueError(f"unknown standing consent text version {self.text_version!r}")
        if self.withdrawn_at is not None and self.withdrawn_at < self.given_at:
            raise ValueError(f"withdrawn_at {self.withdrawn_at} is before given_at {self.given_at}")

    def in_force(self, contract_id: int | None, at: datetime) -> bool:
        """Whether it counts at `at` for a resident bound today by `contract_id` (it lapses with its
        contract: a renewed contract needs it given again)."""
        return (
            contract_id is not None
            and self.contract_id == contract_id
            and self.given_at <= at
            and (self.withdrawn_at is None or self.withdrawn_at > at)
        )


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
    #: The resident's consent was taken from (or lapsed with) their standing consent.
    STANDING_CONSENT = "standing_consent"


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


def may_give_standing_consent(actor: Actor, resident_id: int) -> int | None:
    """Whether `actor` may give or withdraw the resident's standing consent: the resident themself
    (returns None), or a family member whose binding has the consent scope (returns the resident's
    id, as `may_answer` does). Consent is the resident's: no doctor, nurse or officer records it."""
    if actor.role is Role.RESIDENT and actor.resident_id == resident_id:
        return None
    if actor.role is Role.PROXY:
        binding = actor.binding_for(resident_id)
        if binding is not None and binding.allows(ProxyScope.CONSENT):
            return resident_id
        raise AccessDenied("this family member may not consent for the resident", code="no_consent_scope")
    raise AccessDenied(
        "standing consent to recording is the resident's to give or withdraw (or a family member's "
        "with the consent scope), not the care team's",
        code="resident_consents",
    )


def may_read_standing_consent(actor: Actor, resident_id: int, resident_team_id: int | None) -> bool:
    """The resident's side (the resident, a family member with the consent or view-records scope)
    and the resident's care team see whether a standing consent is in force; nobody else."""
    if actor.role is Role.PROXY:
        binding = actor.binding_for(resident_id)
        return binding is not None and (
            binding.allows(ProxyScope.CONSENT) or binding.allows(ProxyScope.VIEW_RECORDS)
        )
    if actor.role in (Role.DOCTOR, Role.NURSE, Role.RESIDENT):
        return record_access(actor, resident_id, resident_team_id) is RecordAccess.FULL
    return False


def check_can_give(current: StandingConsent | None, contract_id: int | None, text_version: str) -> None:
    """Refuse giving a standing consent with no contract, for a text not shown, or twice."""
    if text_version not in STANDING_CONSENT_TEXT:
        raise RuleViolation(
            f"unknown standing consent text {text_version!r}; show the current text "
            f"({STANDING_TEXT_VERSION}) and send its version",
            field="text_version",
        )
    if contract_id is None:
        raise Conflict(
            "a standing consent is recorded on the resident's contract, and there is none in force",
            code="no_contract",
        )
    if current is not None:
        raise Conflict(
            "a standing consent is already in force on this contract; withdraw it first",
            code="standing_consent_exists",
        )


def standing_applies(kind: ConsultKind) -> bool:
    """Standing consent covers follow-up consults only: advice and referral consults always ask."""
    return kind is ConsultKind.FOLLOW_UP


def standing_answer(
    *,
    consult_id: int,
    kind: ConsultKind,
    resident_user_id: int | None,
    present: Iterable[int],
    answers: Iterable[ConsentRecord],
    consult_answers: Iterable[ConsentRecord],
    standing: StandingConsent | None,
    contract_id: int | None,
    now: datetime,
) -> ConsentRecord | None:
    """The answer the gate records for the resident from their standing consent, if any is due.

    In a follow-up consult, a resident present who has not answered this recording request counts
    as consenting when a standing consent is in force (a `granted` answer naming it). A standing
    consent withdrawn since counts as a withdrawal. An answer the resident (or a family member for
    them) gave in the consult itself always wins, for every recording of that consult: withdrawing
    in the call overrides the standing consent there.

    `answers` are the answers to this recording request, `consult_answers` every answer in the consult.
    """
    if resident_user_id is None or not standing_applies(kind) or resident_user_id not in set(present):
        return None
    if any(a.user_id == resident_user_id and not a.from_standing for a in consult_answers):
        return None  # they answered in the call: that answer counts, not the standing consent
    latest = latest_answers(answers).get(resident_user_id)
    if latest is None:
        if standing is None or not standing.in_force(contract_id, now):
            return None
        return ConsentRecord(
            consult_id,
            resident_user_id,
            Decision.GRANTED,
            now,
            standing.text_version,
            standing_consent_id=standing.id,
        )
    if latest.decision is Decision.GRANTED and latest.standing_consent_id is not None:
        if (
            standing is not None
            and standing.id == latest.standing_consent_id
            and standing.in_force(contract_id, now)
        ):
            return None
        return ConsentRecord(
            consult_id,
            resident_user_id,
            Decision.WITHDRAWN,
            now,
            latest.text_version,
            standing_consent_id=latest.standing_consent_id,
        )
    return None


def standing_mark(answer: ConsentRecord) -> TimelineEntry:
    """The timeline mark of an answer taken from a standing consent (see `standing_answer`)."""
    what = (
        "consent taken from the standing consent on the contract"
        if answer.decision is Decision.GRANTED
        else "the standing consent was withdrawn"
    )
    return TimelineEntry(
        answer.decided_at,
        TimelineKind.STANDING_CONSENT,
        f"{what} ({answer.text_version})",
        (answer.user_id,),
    )


def standing_users(answers: Iterable[ConsentRecord]) -> tuple[int, ...]:
    """Who counts as consenting by their standing consent (their latest answer came from it)."""
    latest = latest_answers(answers)
    return tuple(sorted(u for u, r in latest.items() if r.from_standing and r.decision is Decision.GRANTED))


def latest_answers(records: Iterable[ConsentRecord]) -> dict[int, ConsentRecord]:
    """Each user's last answer (a later answer replaces an earlier one; of two at the same instant,
    the one listed later counts)."""
    latest: dict[int, ConsentRecord] = {}
    for record in records:
        held = latest.get(record.user_id)
        if held is None or record.decided_at >= held.decided_at:
            latest[record.user_id] = record
    return latest


def latest_decisions(records: Iterable[ConsentRecord]) -> dict[int, Decision]:
    """Each user's last decision in the consult."""
    return {uid: r.decision for uid, r in latest_answers(records).items()}


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
