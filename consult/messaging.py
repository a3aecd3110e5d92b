"""Messages between residents and their care team (FHIR Communication), and who may read or write them."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date, datetime

from consult.access import Actor, may_practise
from consult.errors import AccessDenied, RuleViolation
from consult.roles import ProxyScope, Role

#: Longest text message, in characters: a paragraph, not a document (send a file for that).
MAX_TEXT = 2000
# https:// links, or paths on this service; "//host/..." is another host to a browser, so not a path.
_URL = re.compile(r"^(https://[^\s]+|/(?![/\\])[^\s]*)$")


class ConversationKind(enum.StrEnum):
    """A resident's standing conversation with their care team, or the chat inside one consult."""

    CARE_TEAM = "care_team"
    CONSULT = "consult"


class MessageKind(enum.StrEnum):
    """What a message carries."""

    TEXT = "text"
    IMAGE = "image"
    FILE = "file"
    CARD = "card"
    AUTO_REPLY = "auto_reply"  # written by the system (off duty), never by a person
    SYSTEM = "system"


#: Kinds a person may send.
SENDABLE = frozenset({MessageKind.TEXT, MessageKind.IMAGE, MessageKind.FILE, MessageKind.CARD})


class CardType(enum.StrEnum):
    """Cards a practitioner pushes: a report to view, a booking page, a follow-up reminder, an article."""

    REPORT_LINK = "report_link"
    BOOKING_LINK = "booking_link"
    FOLLOWUP_REMINDER = "followup_reminder"
    ARTICLE = "article"


@dataclass(frozen=True)
class Card:
    """A structured message with a title and, except for reminders, a link."""

    type: CardType
    title: str
    url: str | None = None
    summary: str = ""
    due_date: date | None = None

    def __post_init__(self) -> None:
        if not self.title.strip() or len(self.title) > 100:
            raise ValueError(f"card title must be 1-100 characters, got {len(self.title)}")
        if len(self.summary) > 500:
            raise ValueError("card summary must be at most 500 characters")
        if self.type is CardType.FOLLOWUP_REMINDER:
            if self.due_date is None:
                raise ValueError("a follow-up reminder card needs its due_date")
        elif self.url is None:
            raise ValueError(f"a {self.type.value} card needs a url")
        if self.url is not None and not _URL.match(self.url):
            raise ValueError(f"card url must be https:// or a path on this service, got {self.url!r}")


@dataclass(frozen=True)
class Attachment:
    """An uploaded image or file a message carries."""

    id: str
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class Conversation:
    """A thread of messages about one resident."""

    id: int
    kind: ConversationKind
    resident_id: int
    team_id: int | None
    consult_id: int | None = None


@dataclass(frozen=True)
class Message:
    """One message; `id` is assigned by the server and orders the conversation."""

    id: int
    conversation_id: int
    kind: MessageKind
    created_at: datetime
    sender_user_id: int | None
    sender_role: str | None
    sender_name: str
    text: str = ""
    on_behalf_of_resident_id: int | None = None
    attachment: Attachment | None = None
    card: Card | None = None
    client_msg_id: str | None = None


def check_content(kind: MessageKind, text: str, attachment_id: str | None, card: Card | None) -> None:
    """A message carries what its kind says, and nothing it cannot."""
    if kind not in SENDABLE:
        raise RuleViolation(f"{kind.value} messages are written by the system", field="kind")
    if len(text) > MAX_TEXT:
        raise RuleViolation(f"text is limited to {MAX_TEXT} characters, got {len(text)}", field="text")
    if kind is MessageKind.TEXT and not text.strip():
        raise RuleViolation("a text message needs text", field="text")
    if kind in (MessageKind.IMAGE, MessageKind.FILE) and attachment_id is None:
        raise RuleViolation(f"an {kind.value} message needs an uploaded attachment", field="attachment_id")
    if kind not in (MessageKind.IMAGE, MessageKind.FILE) and attachment_id is not None:
        raise RuleViolation("only image and file messages carry an attachment", field="attachment_id")
    if kind is not MessageKind.CARD and card is not None:
        raise RuleViolation("only card messages carry a card", field="card")
    if kind is MessageKind.CARD and card is None:
        raise RuleViolation("a card message needs its card", field="card")


def member_role(
    actor: Actor, conversation: Conversation, consult_participant_ids: frozenset[int]
) -> str | None:
    """How `actor` belongs to the conversation ("resident", "proxy", "team", "participant") or None.

    A practitioner who may not act as one (not real-name verified) belongs to none.
    """
    if actor.role.is_practitioner and not may_practise(actor):
        return None
    if conversation.kind is ConversationKind.CONSULT:
        return "participant" if actor.user_id in consult_participant_ids else None
    if actor.role is Role.RESIDENT and actor.resident_id == conversation.resident_id:
        return "resident"
    if actor.role is Role.PROXY:
        binding = actor.binding_for(conversation.resident_id)
        if binding is not None and binding.allows(ProxyScope.MESSAGE):
            return "proxy"
        return None
    if actor.role in (Role.DOCTOR, Role.NURSE) and conversation.team_id in actor.team_ids:
        return "team"
    return None


def require_member(actor: Actor, conversation: Conversation, consult_participant_ids: frozenset[int]) -> str:
    """Refuse anyone who is not a member of the conversation."""
    role = member_role(actor, conversation, consult_participant_ids)
    if role is None:
        raise AccessDenied(f"you are not a member of conversation {conversation.id}")
    return role


def require_may_send(actor: Actor, kind: MessageKind) -> None:
    """Cards are pushed by practitioners; anyone who belongs may write text and attach files."""
    if kind is MessageKind.CARD and not actor.role.is_practitioner:
        raise AccessDenied("cards are sent by the care team", code="cards_by_team")
