"""The waiting room: residents checked in to a consult, the doctor's queue, admission, invites, reconnects."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from consult.access import Actor
from consult.consult import Consult, ConsultKind, ConsultStatus
from consult.errors import AccessDenied, Conflict, RuleViolation
from consult.practitioner import require_may_practise
from consult.roles import ProxyScope, Role

#: A client that drops and comes back within this long keeps its place: in the queue, or in the room.
GRACE_PERIOD = timedelta(seconds=60)
#: How long a specialist's invite link stays valid.
INVITE_LIFETIME = timedelta(hours=24)
#: Check-in opens this long before a scheduled consult.
EARLY_CHECK_IN = timedelta(minutes=30)


class Presence(enum.StrEnum):
    """A participant's connection state as the room sees it."""

    CONNECTED = "connected"
    RECONNECTING = "reconnecting"  # dropped, inside the grace period
    LEFT = "left"


@dataclass(frozen=True)
class QueueEntry:
    """A resident waiting for the doctor to admit them."""

    consult_id: int
    team_id: int
    resident_id: int
    resident_name: str
    user_id: int
    checked_in_at: datetime
    kind: ConsultKind
    presence: Presence = Presence.CONNECTED

    def waited_seconds(self, now: datetime) -> int:
        """How long the resident has been waiting."""
        return max(0, int((now - self.checked_in_at).total_seconds()))


def queue_order(entries: list[QueueEntry]) -> list[QueueEntry]:
    """First come, first served."""
    return sorted(entries, key=lambda e: (e.checked_in_at, e.consult_id))


def require_may_check_in(actor: Actor, consult: Consult, now: datetime) -> None:
    """The resident (or a proxy with the consult scope) checks in to a consult that can still start."""
    if actor.role is Role.RESIDENT:
        if actor.resident_id != consult.resident_id:
            raise AccessDenied("you may only check in to your own consults")
    elif actor.role is Role.PROXY:
        binding = actor.binding_for(consult.resident_id)
        if binding is None or not binding.allows(ProxyScope.CONSULT):
            raise AccessDenied(
                "your binding to this resident does not include consults", code="scope_missing"
            )
    else:
        raise AccessDenied("only the resident or their proxy checks in; the team joins the room")
    # A running consult takes a resident back (after they left or dropped for too long): they wait
    # to be admitted again.
    if consult.status not in (ConsultStatus.SCHEDULED, ConsultStatus.WAITING, ConsultStatus.IN_PROGRESS):
        raise Conflict(f"consult {consult.id} is {consult.status.value}", code="consult_not_waiting")
    if consult.scheduled_at is not None and consult.scheduled_at - EARLY_CHECK_IN > now:
        raise RuleViolation(
            f"check-in opens {int(EARLY_CHECK_IN.total_seconds() // 60)} minutes before the consult",
            code="too_early",
        )


@dataclass(frozen=True)
class Invite:
    """A single-use link that lets one specialist into one referral consult."""

    consult_id: int
    expires_at: datetime
    used_at: datetime | None = None


def check_invite(invite: Invite | None, consult: Consult, actor: Actor, now: datetime) -> None:
    """Refuse an unknown, used, expired or misdirected invite, or anyone but a specialist."""
    if invite is None or invite.consult_id != consult.id:
        raise AccessDenied("this invite is not valid for this consult", code="invite_invalid")
    if invite.used_at is not None:
        raise AccessDenied("this invite has already been used", code="invite_used")
    if now >= invite.expires_at:
        raise AccessDenied("this invite has expired; ask the doctor for a new one", code="invite_expired")
    if actor.role is not Role.SPECIALIST:
        raise AccessDenied("invites are for specialists", code="invite_wrong_role")
    require_may_practise(actor.practitioner)
    if consult.kind is not ConsultKind.REFERRAL:
        raise RuleViolation("only referral consults take invited specialists", code="not_a_referral")
    if consult.status in (ConsultStatus.ENDED, ConsultStatus.CANCELLED, ConsultStatus.NO_SHOW):
        raise Conflict(f"consult {consult.id} is {consult.status.value}", code="consult_closed")


@dataclass(frozen=True)
class RoomMember:
    """Someone in a consult room, as everyone else in it sees them."""

    user_id: int
    role: str
    display_name: str
    presence: Presence
    since: datetime
