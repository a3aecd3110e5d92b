"""The payloads clients send, validated on arrival (documented in docs/protocol.md)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from consult.duty import DutyStatus
from consult.messaging import MAX_TEXT, CardType, MessageKind

Id = Annotated[int, Field(ge=1, le=2**53)]


class Payload(BaseModel):
    """Unknown fields are an error: a typo must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class Empty(Payload):
    """Events that carry nothing."""


class OpenConversation(Payload):
    resident_id: Id


class CardIn(Payload):
    type: CardType
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    url: Annotated[str | None, StringConstraints(max_length=500)] = None
    summary: Annotated[str, StringConstraints(max_length=500)] = ""
    due_date: date | None = None


class SendMessage(Payload):
    conversation_id: Id
    client_msg_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")] = Field(
        description="the client's own id for this message (e.g. a UUID): a retry with the same id is not "
        "stored twice"
    )
    kind: MessageKind = MessageKind.TEXT
    text: Annotated[str, StringConstraints(max_length=MAX_TEXT)] = ""
    attachment_id: Annotated[str | None, StringConstraints(pattern=r"^[0-9a-f]{32}$")] = None
    card: CardIn | None = None


class SyncMessages(Payload):
    conversation_id: Id
    after_id: int = Field(0, ge=0)
    limit: int = Field(100, ge=1, le=500)


class MarkRead(Payload):
    conversation_id: Id
    up_to_id: Id


class Typing(Payload):
    conversation_id: Id
    typing: bool = True


class ConsultRef(Payload):
    consult_id: Id


class RemoveParticipant(Payload):
    consult_id: Id
    user_id: Id


class SetDuty(Payload):
    status: DutyStatus


#: Offers and answers from browsers are a few KiB; a consult's with many tracks stays well under this.
MAX_SDP = 60 * 1024


class MediaSdp(Payload):
    consult_id: Id
    sdp: Annotated[str, StringConstraints(min_length=1, max_length=MAX_SDP)]


class IceCandidateIn(Payload):
    """`RTCIceCandidate.toJSON()` as browsers send it."""

    model_config = ConfigDict(extra="ignore")

    candidate: Annotated[str, StringConstraints(max_length=1024)]
    sdpMid: Annotated[str | None, StringConstraints(max_length=64)] = None
    sdpMLineIndex: int | None = Field(None, ge=0, le=1024)
    usernameFragment: Annotated[str | None, StringConstraints(max_length=256)] = None


class MediaCandidate(Payload):
    consult_id: Id
    candidate: IceCandidateIn | None = Field(None, description="null: the client has no more candidates")


class MediaState(Payload):
    consult_id: Id
    audio: bool | None = None
    video: bool | None = None
    receive_video: bool | None = Field(None, description="false: audio only to this client (weak network)")


class RecordConsent(Payload):
    consult_id: Id
    decision: Annotated[str, StringConstraints(pattern=r"^(granted|refused|withdrawn)$")]
    text_version: Annotated[str, StringConstraints(min_length=1, max_length=40)]
