"""Request and response models of the HTTP API; they validate requests and generate the OpenAPI document."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from consult.consult import ConsultKind, ConsultMode, ConsultStatus, Vitals
from consult.contract import ContractStatus, ServicePackage, UnableReason
from consult.referral import ReferralStatus

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Id = Annotated[int, Field(ge=1, le=2**53)]


class In(BaseModel):
    """Base of request models: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    """Base of response models."""


class Problem(Out):
    """An RFC 9457 problem detail, with the failing fields when there are any."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[dict[str, str]] | None = None


# --- auth -----------------------------------------------------------------------------------------


class LoginIn(In):
    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class TokenOut(Out):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class PractitionerOut(Out):
    id: int
    name: str
    kind: str
    organization_id: int
    real_name_verified: bool
    years_of_practice: int
    department: str | None = None


class TeamOut(Out):
    id: int
    name: str


class ProxyForOut(Out):
    resident_id: int
    name: str
    relation: str
    scopes: list[str]


class MeOut(Out):
    id: int
    username: str
    role: str
    display_name: str
    resident_id: int | None
    practitioner: PractitionerOut | None
    team_ids: list[int]
    teams: list[TeamOut]
    proxy_for: list[ProxyForOut]
    time_zone: str = Field(description="the service's time zone: dates and times are shown on its clock")


# --- residents ------------------------------------------------------------------------------------


class ResidentQuery(In):
    q: Annotated[str | None, StringConstraints(strip_whitespace=True, max_length=50)] = Field(
        None, description="name (part), phone (prefix), tag or exact ID number"
    )
    tag: Annotated[str | None, StringConstraints(strip_whitespace=True, max_length=40)] = None
    page: int = Field(1, ge=1, le=10_000)
    page_size: int = Field(20, ge=1, le=100)


class ResidentSummaryOut(Out):
    id: int
    name: str
    sex: str
    age: int
    birth_date: date
    id_number_masked: str
    phone: str | None
    tags: list[str]
    conditions: list[str]
    contract_status: str | None


class ResidentPageOut(Out):
    items: list[ResidentSummaryOut]
    total: int
    page: int
    page_size: int


class ResidentOut(Out):
    id: int
    name: str
    sex: str
    birth_date: date
    age: int
    id_number_masked: str
    phone: str | None
    address: str | None
    tags: list[str]
    allergies: list[str]


class ConditionOut(Out):
    id: int
    name: str
    code: str | None
    diagnosed_offline: bool
    diagnosed_on: date | None
    diagnosed_at: str | None
    active: bool


class ContractOut(Out):
    id: int
    resident_id: int
    team_id: int
    team_name: str
    package: ServicePackage
    start_date: date
    end_date: date
    status: ContractStatus
    unable_reason: UnableReason | None = None
    note: str | None = None


class PlanOut(Out):
    id: int
    resident_id: int
    title: str
    interval_days: int
    condition_id: int | None
    start_date: date
    active: bool


class TaskOut(Out):
    id: int
    plan_id: int
    resident_id: int
    title: str
    due_date: date
    status: str
    overdue: bool
    consult_id: int | None = None
    completed_on: date | None = None


class ConsultSummaryOut(Out):
    id: int
    kind: ConsultKind
    mode: ConsultMode
    status: ConsultStatus
    resident_id: int
    resident_name: str
    scheduled_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    reason: str


class VitalsOut(Out):
    systolic_mmhg: int | None = None
    diastolic_mmhg: int | None = None
    heart_rate_bpm: int | None = None
    glucose_mmol_l: float | None = None
    temperature_c: float | None = None
    spo2_percent: int | None = None
    weight_kg: float | None = None
    taken_at: datetime | None = None


class ReferralOut(Out):
    id: int
    resident_id: int
    from_team_id: int
    to_organization_id: int
    to_practitioner_id: int | None
    reason: str
    status: ReferralStatus
    created_at: datetime
    shared_results: list[SharedResultIO]
    shared_condition_ids: list[int]
    specialist_opinion: str


class StandingConsentItemOut(Out):
    id: int
    contract_id: int
    given_at: datetime
    given_by: int
    given_by_name: str
    given_by_role: str = Field(description="resident, or proxy when a family member gave it for them")
    text_version: str
    withdrawn_at: datetime | None
    withdrawn_by: int | None
    withdrawn_by_name: str | None


class StandingConsentOut(Out):
    resident_id: int
    in_force: bool = Field(description="a standing consent on today's contract counts for follow-ups")
    current: StandingConsentItemOut | None
    contract_id: int | None = Field(description="the contract binding the resident today, if any")
    may_change: bool = Field(description="whether the caller may give or withdraw it")
    text_version: str = Field(description="the current text's version: show `text`, send this back")
    text: dict[str, str]
    history: list[StandingConsentItemOut] = Field(description="every one given, newest first")


class StandingConsentIn(In):
    text_version: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)] = (
        Field(description="the version of the text the resident was shown (from GET …/standing-consent)")
    )


class RecordOut(Out):
    access: str = Field(description="full, or shared for a specialist seeing what a referral shares")
    resident: ResidentOut
    conditions: list[ConditionOut]
    contract: ContractOut | None
    standing_consent: StandingConsentItemOut | None = Field(
        None, description="the standing consent to recording follow-ups in force today, if any"
    )
    followup_plans: list[PlanOut]
    due_tasks: list[TaskOut]
    consults: list[ConsultSummaryOut]
    referrals: list[ReferralOut]
    last_vitals: VitalsOut | None


# --- consults -------------------------------------------------------------------------------------


class ConsultCreateIn(In):
    resident_id: Id
    kind: ConsultKind
    mode: ConsultMode = ConsultMode.VIDEO
    scheduled_at: AwareDatetime | None = Field(
        None, description="with a time zone; omit for an on-demand consult that starts waiting now"
    )
    condition_id: Id | None = Field(None, description="required for kind follow_up (复诊)")
    followup_task_id: Id | None = None
    referral_id: Id | None = Field(None, description="required for kind referral (会诊)")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""
    fall_back_to_advice: bool = Field(
        False, description="hold a refused follow-up as advice (咨询) instead of refusing it"
    )


class ConsultQuery(In):
    status: ConsultStatus | None = None
    resident_id: Id | None = None
    limit: int = Field(50, ge=1, le=200)


class ParticipantOut(Out):
    user_id: int
    role: str
    display_name: str
    joined_at: datetime | None
    left_at: datetime | None


def _vitals_ok(value: VitalsIn) -> VitalsIn:
    Vitals(**value.model_dump())  # the domain's plausibility rules, one source of truth
    return value


class VitalsIn(In):
    systolic_mmhg: int | None = Field(None, ge=50, le=300)
    diastolic_mmhg: int | None = Field(None, ge=20, le=200)
    heart_rate_bpm: int | None = Field(None, ge=20, le=250)
    glucose_mmol_l: float | None = Field(None, ge=0.5, le=40)
    temperature_c: float | None = Field(None, ge=30, le=45)
    spo2_percent: int | None = Field(None, ge=40, le=100)
    weight_kg: float | None = Field(None, ge=1, le=400)


class NoteIn(In):
    subjective: Text = ""
    objective: Text = ""
    vitals: Annotated[VitalsIn, AfterValidator(_vitals_ok)] = Field(default_factory=lambda: VitalsIn())
    assessment: Text = ""
    plan: Text = ""
    next_visit_on: date | None = None


class NoteOut(Out):
    subjective: str
    objective: str
    vitals: VitalsOut
    assessment: str
    plan: str


class ConsultOut(Out):
    id: int
    kind: ConsultKind
    mode: ConsultMode
    status: ConsultStatus
    resident_id: int
    resident_name: str
    team_id: int | None
    condition_id: int | None
    followup_task_id: int | None
    referral_id: int | None
    scheduled_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    duration_seconds: int | None
    reason: str
    participants: list[ParticipantOut]
    note: NoteOut | None = Field(description="absent when the caller may not read clinical notes")
    next_visit_on: date | None
    next_task: TaskOut | None = None


class ConsultListOut(Out):
    items: list[ConsultSummaryOut]


class ConsultViewQuery(In):
    purpose: Annotated[str | None, StringConstraints(strip_whitespace=True, min_length=4, max_length=200)] = (
        Field(None, description="compliance review: the reason for reading the clinical note (audited)")
    )


class CancelIn(In):
    status: ConsultStatus = Field(ConsultStatus.CANCELLED, description="cancelled or no_show")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""


class WorkbenchOut(Out):
    today: date
    due_tasks: list[WorkbenchTaskOut]
    consults_today: list[ConsultSummaryOut]


class WorkbenchTaskOut(Out):
    task_id: int
    plan_id: int
    resident_id: int
    resident_name: str
    title: str
    due_date: date
    overdue: bool


# --- follow-ups -----------------------------------------------------------------------------------


class PlanIn(In):
    resident_id: Id
    condition_id: Id | None = None
    title: ShortText
    interval_days: int = Field(ge=1, le=366)
    start_date: date
    first_due: date | None = Field(None, description="defaults to start_date + interval_days")


class PlanCreatedOut(Out):
    plan: PlanOut
    first_task: TaskOut


class TaskQuery(In):
    within_days: int = Field(7, ge=0, le=366, description="tasks due up to this many days from today")
    resident_id: Id | None = None


class TaskListOut(Out):
    items: list[TaskOut]


# --- referrals ------------------------------------------------------------------------------------


class SharedResultIO(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: ShortText
    value: ShortText
    taken_on: str | None = None


class ReferralIn(In):
    resident_id: Id
    to_organization_id: Id
    to_practitioner_id: Id | None = None
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=2000)]
    shared_results: list[SharedResultIO] = Field(default_factory=list, max_length=50)
    shared_condition_ids: list[Id] = Field(default_factory=list, max_length=50)


class ReferralStatusIn(In):
    status: ReferralStatus
    specialist_opinion: Text | None = None


class ReferralListOut(Out):
    items: list[ReferralOut]


# --- contracts ------------------------------------------------------------------------------------


class ContractIn(In):
    resident_id: Id
    team_id: Id
    package: ServicePackage = ServicePackage.BASIC
    start_date: date
    activate: bool = Field(True, description="sign now (active) or leave pending the resident's signature")


class ContractStatusIn(In):
    status: ContractStatus
    unable_reason: UnableReason | None = None
    note: Annotated[str | None, StringConstraints(strip_whitespace=True, max_length=500)] = None


class ContractListOut(Out):
    items: list[ContractOut]


# --- audit ----------------------------------------------------------------------------------------


class AuditQuery(In):
    resident_id: Id | None = None
    actor_username: Annotated[str | None, StringConstraints(max_length=64)] = None
    action: Annotated[str | None, StringConstraints(max_length=40)] = None
    page: int = Field(1, ge=1, le=100_000)
    page_size: int = Field(50, ge=1, le=200)


class AuditEventOut(Out):
    seq: int
    at: datetime
    actor_username: str | None
    actor_role: str | None
    action: str
    entity_type: str
    entity_id: str | None
    resident_id: int | None
    outcome: str
    purpose: str | None
    detail: dict[str, object]
    hash: str


class AuditPageOut(Out):
    items: list[AuditEventOut]
    total: int


class HealthOut(Out):
    status: str
    database: str


RecordOut.model_rebuild()
ReferralOut.model_rebuild()
NoteIn.model_rebuild()
WorkbenchOut.model_rebuild()


# --- messaging -------------------------------------------------------------------------------------


class AttachmentOut(Out):
    id: str
    conversation_id: int
    filename: str
    content_type: str
    size: int
    url: str


class AudienceIn(In):
    tags: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=20
    )
    conditions: list[
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    ] = Field(default_factory=list, max_length=20)
    age_min: int | None = Field(None, ge=0, le=130)
    age_max: int | None = Field(None, ge=0, le=130)
    all_residents: bool = False


class BroadcastCardIn(In):
    type: str = Field(description="report_link, booking_link, followup_reminder or article")
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    url: Annotated[str | None, StringConstraints(max_length=500)] = None
    summary: Annotated[str, StringConstraints(max_length=500)] = ""
    due_date: date | None = None


class BroadcastIn(In):
    audience: AudienceIn
    text: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""
    card: BroadcastCardIn | None = None
    dry_run: bool = Field(False, description="count the recipients without sending")


class BroadcastOut(Out):
    id: int | None
    recipients: int
    delivered: int
    read: int
    created_at: datetime | None
    text: str


class DutyIn(In):
    status: str = Field(description="auto (follow working hours), on_duty, busy or off_duty")


class DutyOut(Out):
    status: str
    on_duty_now: bool
    next_on_duty: datetime | None


class AlertOut(Out):
    id: int
    kind: str
    resident_id: int
    resident_name: str
    message_id: int
    findings: list[str]
    created_at: datetime
    acknowledged_at: datetime | None


class AlertListOut(Out):
    items: list[AlertOut]


class WordsOut(Out):
    items: list[str]


class WordIn(In):
    word: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


class InviteAcceptedOut(Out):
    consult_id: int
    resident_id: int
    kind: ConsultKind
    status: ConsultStatus


class TeamSettingsIO(In):
    off_duty_message: Annotated[str | None, StringConstraints(strip_whitespace=True, max_length=300)] = Field(
        None, description="the team's wording of the emergency path in after-hours auto-replies"
    )
    red_flags: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=30)]] = (
        Field(default_factory=list, max_length=100, description="words that alert the on-call doctor")
    )


# --- recordings (compliance review) -----------------------------------------------------------------


class RecordingQuery(In):
    resident_id: Id | None = None
    doctor_id: Id | None = Field(None, description="the user id of the doctor who asked to record")
    date_from: date | None = None
    date_to: date | None = None
    kind: ConsultKind | None = None
    consent: Annotated[str | None, StringConstraints(pattern=r"^(all_granted|refused)$")] = Field(
        None, description="all_granted: nobody refused or withdrew; refused: someone did"
    )
    held: bool | None = None
    complete: bool | None = None


class RecordingItemOut(Out):
    id: int
    consult_id: int
    consult_kind: ConsultKind
    resident_id: int
    resident_name: str
    requested_by: int
    requested_by_name: str
    status: str
    complete: bool
    started_at: datetime | None
    ended_at: datetime | None
    consent: str
    held: bool
    expires_on: date | None
    destroyed_at: datetime | None


class RecordingListOut(Out):
    items: list[RecordingItemOut]


class PeopleQuery(In):
    q: Annotated[str | None, StringConstraints(strip_whitespace=True, max_length=50)] = Field(
        None, description="part of a name"
    )


class PersonOut(Out):
    id: int = Field(description="the value to filter by: a doctor's user id, or a resident id")
    name: str


class RecordingPeopleOut(Out):
    doctors: list[PersonOut] = Field(description="who asked to record, by name")
    residents: list[PersonOut] = Field(description="whose consults were recorded, by name")
    truncated: bool = Field(description="more matched than were sent: narrow with `q`")
    limit: int = Field(description="at most this many doctors and this many residents are sent")


class SegmentOut(Out):
    seq: int
    start_ms: int
    duration_ms: int


class TrackOut(Out):
    id: int
    user_id: int
    name: str
    kind: str
    codec: str
    segments: list[SegmentOut]


class ConsentOut(Out):
    user_id: int
    name: str
    decision: str
    decided_at: datetime
    text_version: str
    on_behalf_of_resident_id: int | None
    source: str = Field(
        "in_call", description="in_call: asked in the consult; standing: taken from the standing consent"
    )
    standing_consent_id: int | None = None


class HoldOut(Out):
    id: int
    reason: str
    set_by: int
    set_at: datetime
    released_at: datetime | None
    released_by: int | None


class AccessOut(Out):
    at: datetime
    user_id: int | None
    username: str | None
    role: str | None
    action: str
    purpose: str | None
    outcome: str


class ChatLineOut(Out):
    id: int
    sender_name: str
    sender_role: str | None
    text: str
    kind: str
    created_at: datetime


class RecordingOut(RecordingItemOut):
    timeline: list[dict[str, object]]
    tracks: list[TrackOut]
    consents: list[ConsentOut]
    holds: list[HoldOut]
    chat: list[ChatLineOut]
    access: list[AccessOut] = Field(description="who viewed, exported, held or released it (compliance only)")


class PurposeIn(In):
    purpose: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)] = Field(
        description="why the recording is viewed or exported (e.g. 投诉核查), recorded in the audit trail"
    )


class ViewTrackOut(Out):
    track_id: int
    url: str


class ViewOut(Out):
    expires_at: datetime
    tracks: list[ViewTrackOut]


class HoldIn(In):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=500)]
