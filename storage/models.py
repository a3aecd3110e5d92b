"""SQLAlchemy models: the tables behind `consult/`'s dataclasses, the blob store and the audit chain."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given; Jiayi stores aware UTC times")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with a constraint naming convention, so migrations are stable on both backends."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class OrganizationRow(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))


class PractitionerRow(Base):
    __tablename__ = "practitioners"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    department: Mapped[str | None] = mapped_column(String(100))
    licence_number: Mapped[str | None] = mapped_column(String(40))
    years_of_practice: Mapped[int] = mapped_column(Integer, default=0)
    real_name_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    verified_at: Mapped[datetime | None]


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    display_name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioners.id"), unique=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CareTeamRow(Base):
    __tablename__ = "care_teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    #: The team's wording of the emergency path, given in every after-hours auto-reply.
    off_duty_message: Mapped[str | None] = mapped_column(Text)


class TeamMembershipRow(Base):
    __tablename__ = "team_memberships"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("care_teams.id"), index=True)
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioners.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    joined_on: Mapped[date] = mapped_column(Date)
    left_on: Mapped[date | None] = mapped_column(Date)


class ResidentRow(Base):
    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    sex: Mapped[str] = mapped_column(String(10))
    birth_date: Mapped[date] = mapped_column(Date)
    #: The ID number, encrypted (`storage.crypto.FieldProtector`); never stored in clear.
    id_number_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    #: Keyed HMAC of the ID number, to find a resident by exact ID number.
    id_number_index: Mapped[str] = mapped_column(String(64), unique=True)
    id_number_masked: Mapped[str] = mapped_column(String(18))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    address: Mapped[str | None] = mapped_column(String(300))
    allergies: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    tags: Mapped[list[ResidentTagRow]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="ResidentTagRow.tag"
    )
    conditions: Mapped[list[ConditionRow]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="ConditionRow.id"
    )


class ResidentTagRow(Base):
    __tablename__ = "resident_tags"
    __table_args__ = (UniqueConstraint("resident_id", "tag"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    tag: Mapped[str] = mapped_column(String(40), index=True)


class ConditionRow(Base):
    __tablename__ = "conditions"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    code: Mapped[str | None] = mapped_column(String(20))
    diagnosed_offline: Mapped[bool] = mapped_column(Boolean, default=False)
    diagnosed_on: Mapped[date | None] = mapped_column(Date)
    diagnosed_at: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ProxyBindingRow(Base):
    __tablename__ = "proxy_bindings"
    __table_args__ = (UniqueConstraint("proxy_user_id", "resident_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    proxy_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    relation: Mapped[str] = mapped_column(String(20))
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    #: What proves the relationship (e.g. household register checked at the centre).
    proof: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class ContractRow(Base):
    __tablename__ = "contracts"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("care_teams.id"), index=True)
    package: Mapped[str] = mapped_column(String(20))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), index=True)
    unable_reason: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ReferralRow(Base):
    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    from_team_id: Mapped[int] = mapped_column(ForeignKey("care_teams.id"), index=True)
    to_organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    to_practitioner_id: Mapped[int | None] = mapped_column(ForeignKey("practitioners.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    shared_results: Mapped[list[Any]] = mapped_column(default=list)
    shared_condition_ids: Mapped[list[Any]] = mapped_column(default=list)
    specialist_opinion: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FollowUpPlanRow(Base):
    __tablename__ = "followup_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("care_teams.id"), index=True)
    condition_id: Mapped[int | None] = mapped_column(ForeignKey("conditions.id"))
    title: Mapped[str] = mapped_column(String(100))
    interval_days: Mapped[int] = mapped_column(Integer)
    start_date: Mapped[date] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FollowUpTaskRow(Base):
    __tablename__ = "followup_tasks"
    __table_args__ = (Index("ix_followup_tasks_status_due", "status", "due_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("followup_plans.id"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))
    #: The consult that serves this task (a consult's task is found through here).
    consult_id: Mapped[int | None] = mapped_column(ForeignKey("consults.id"), index=True)
    completed_on: Mapped[date | None] = mapped_column(Date)


class ConsultRow(Base):
    __tablename__ = "consults"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    mode: Mapped[str] = mapped_column(String(10))
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("care_teams.id"), index=True)
    condition_id: Mapped[int | None] = mapped_column(ForeignKey("conditions.id"))
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"))
    status: Mapped[str] = mapped_column(String(20), index=True)
    reason: Mapped[str] = mapped_column(String(500), default="")
    scheduled_at: Mapped[datetime | None] = mapped_column(index=True)
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    note: Mapped[dict[str, Any]] = mapped_column(default=dict)
    next_visit_on: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    participants: Mapped[list[ConsultParticipantRow]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="ConsultParticipantRow.id"
    )


class ConsultParticipantRow(Base):
    __tablename__ = "consult_participants"
    __table_args__ = (UniqueConstraint("consult_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    consult_id: Mapped[int] = mapped_column(ForeignKey("consults.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    display_name: Mapped[str] = mapped_column(String(100))
    joined_at: Mapped[datetime | None]
    left_at: Mapped[datetime | None]


class DataKeyRow(Base):
    """A data key, wrapped by the master key. Destroying it (crypto-shredding) makes its blobs unreadable."""

    __tablename__ = "data_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(20))
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    master_key_id: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    destroyed_at: Mapped[datetime | None]


class BlobRow(Base):
    """An encrypted object in the blob store; the bytes live on disk, the facts here."""

    __tablename__ = "blobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("data_keys.id"), index=True)
    algorithm: Mapped[str] = mapped_column(String(20))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]


class AuditEventRow(Base):
    """One audit entry; `hash` covers its fields and the previous entry's hash (FHIR AuditEvent)."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    at: Mapped[datetime] = mapped_column(index=True)
    actor_user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor_username: Mapped[str | None] = mapped_column(String(64))
    actor_role: Mapped[str | None] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(40), index=True)
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(String(40))
    resident_id: Mapped[int | None] = mapped_column(Integer, index=True)
    outcome: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHeadRow(Base):
    """The single row that serialises appends to the audit chain (locked for the length of a transaction)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    last_hash: Mapped[str] = mapped_column(String(64))


class ConversationRow(Base):
    """A resident's thread with their care team, or the chat of one consult."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("kind", "resident_id", "team_id", "consult_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("care_teams.id"), index=True)
    consult_id: Mapped[int | None] = mapped_column(ForeignKey("consults.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MessageRow(Base):
    """One message; its id orders the conversation. `client_msg_id` makes a sender's retries idempotent."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("sender_user_id", "client_msg_id"),
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    kind: Mapped[str] = mapped_column(String(20))
    sender_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sender_role: Mapped[str | None] = mapped_column(String(20))
    sender_name: Mapped[str] = mapped_column(String(100))
    on_behalf_of_resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"))
    text: Mapped[str] = mapped_column(Text, default="")
    attachment_id: Mapped[str | None] = mapped_column(ForeignKey("attachments.id"))
    card: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: Loaded with the message (a LEFT JOIN): clients show a file's name and type before opening it.
    attachment: Mapped[AttachmentRow | None] = relationship(lazy="joined")
    client_msg_id: Mapped[str | None] = mapped_column(String(64))
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcasts.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReadMarkRow(Base):
    """How far a member has read a conversation (read receipts and unread counts)."""

    __tablename__ = "read_marks"

    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    last_read_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    #: How far the member's device has received (delivery receipts; broadcasts count these).
    last_delivered_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AttachmentRow(Base):
    """An uploaded image or file, its bytes in the blob store under the same id."""

    __tablename__ = "attachments"

    id: Mapped[str] = mapped_column(ForeignKey("blobs.id"), primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DutyRow(Base):
    """A practitioner's manual duty status and working hours."""

    __tablename__ = "duty"

    practitioner_id: Mapped[int] = mapped_column(ForeignKey("practitioners.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default="auto")
    #: [{"weekday": 0, "start": "08:00", "end": "17:00"}, ...]; null means the centre's usual hours.
    hours: Mapped[list[Any] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TeamSettingsRow(Base):
    """Per-team messaging settings: red-flag words (null means the defaults)."""

    __tablename__ = "team_settings"

    team_id: Mapped[int] = mapped_column(ForeignKey("care_teams.id"), primary_key=True)
    red_flags: Mapped[list[Any] | None] = mapped_column(JSON)


class SensitiveWordRow(Base):
    """An admin-managed word whose use in a message is flagged to compliance."""

    __tablename__ = "sensitive_words"

    id: Mapped[int] = mapped_column(primary_key=True)
    word: Mapped[str] = mapped_column(String(50), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertRow(Base):
    """A message that needs a person: red flag or reading (to the team), sensitive word (to compliance)."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("care_teams.id"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    sender_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    findings: Mapped[list[Any]] = mapped_column(default=list)
    notified_user_ids: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acknowledged_at: Mapped[datetime | None]


class BroadcastRow(Base):
    """One message sent by a doctor to a filtered group of the team's residents."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("care_teams.id"), index=True)
    sender_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    audience: Mapped[dict[str, Any]] = mapped_column(default=dict)
    kind: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text, default="")
    card: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InviteRow(Base):
    """A single-use, expiring invite of a specialist into one consult; only the token's hash is kept."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    consult_id: Mapped[int] = mapped_column(ForeignKey("consults.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ConsentRow(Base):
    """One answer to a recording request (FHIR Consent): who, for whom, which consult, what, when, the
    text version shown. Answers are never updated: a withdrawal is a new row."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    consult_id: Mapped[int] = mapped_column(ForeignKey("consults.id"), index=True)
    recording_id: Mapped[int | None] = mapped_column(ForeignKey("recordings.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    on_behalf_of_resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"))
    decision: Mapped[str] = mapped_column(String(20))
    decided_at: Mapped[datetime]
    text_version: Mapped[str] = mapped_column(String(40))
    #: Set when the answer was taken from the resident's standing consent rather than asked in the call.
    standing_consent_id: Mapped[int | None] = mapped_column(ForeignKey("standing_consents.id"))


class StandingConsentRow(Base):
    """A resident's standing consent to recording their follow-up consults, given on their contract.
    Never deleted: a withdrawal sets `withdrawn_at` (and who withdrew it)."""

    __tablename__ = "standing_consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    given_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    given_at: Mapped[datetime]
    text_version: Mapped[str] = mapped_column(String(40))
    withdrawn_at: Mapped[datetime | None]
    withdrawn_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class RecordingRow(Base):
    """A consult's recording: its status and timeline, its one data key, and its retention."""

    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(primary_key=True)
    consult_id: Mapped[int] = mapped_column(ForeignKey("consults.id"), index=True)
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), index=True)
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    #: Every segment of every track is sealed with this key; destroying it shreds the recording.
    key_id: Mapped[str] = mapped_column(ForeignKey("data_keys.id"))
    algorithm: Mapped[str] = mapped_column(String(20))
    timeline: Mapped[list[Any]] = mapped_column(default=list)
    #: False when the recorder stopped without closing its tracks (a worker died).
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_on: Mapped[date | None] = mapped_column(Date, index=True)
    destroyed_at: Mapped[datetime | None]
    destroyed_reason: Mapped[str | None] = mapped_column(String(200))


class RecordingTrackRow(Base):
    """One participant's audio or video in a recording, stored as segments."""

    __tablename__ = "recording_tracks"

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(ForeignKey("recordings.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(10))
    codec: Mapped[str] = mapped_column(String(20))
    container: Mapped[str] = mapped_column(String(20))


class RecordingSegmentRow(Base):
    """A short piece of a track (about 10 s), encrypted in the blob store."""

    __tablename__ = "recording_segments"
    __table_args__ = (UniqueConstraint("track_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("recording_tracks.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    blob_id: Mapped[str] = mapped_column(ForeignKey("blobs.id"))
    #: Milliseconds from the recording's start, so tracks play side by side in sync.
    start_ms: Mapped[int] = mapped_column(BigInteger)
    duration_ms: Mapped[int] = mapped_column(BigInteger)


class LegalHoldRow(Base):
    """A compliance officer's hold on a record: nothing under it is destroyed until released."""

    __tablename__ = "legal_holds"
    __table_args__ = (Index("ix_legal_holds_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(500))
    set_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    set_at: Mapped[datetime]
    released_at: Mapped[datetime | None]
    released_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class TombstoneRow(Base):
    """What retention destroyed: kind, which record, the rule's date, when; the record itself is gone."""

    __tablename__ = "tombstones"
    __table_args__ = (Index("ix_tombstones_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(20))
    expired_on: Mapped[date] = mapped_column(Date)
    destroyed_at: Mapped[datetime]
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
