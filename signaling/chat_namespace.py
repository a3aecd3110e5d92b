"""`/chat`: conversations between residents and their care team, and the chat inside consults."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from consult.access import Actor
from consult.alerts import AlertKind, Finding, dangerous_readings, red_flags, sensitive_words
from consult.duty import TeamMember, auto_reply, back_on_duty, doctors_on_duty, on_call
from consult.errors import NotFound, RuleViolation
from consult.messaging import (
    Card,
    Conversation,
    ConversationKind,
    Message,
    MessageKind,
    check_content,
    member_role,
    require_may_send,
    require_member,
)
from consult.roles import ProxyScope, Role
from signaling import payloads
from signaling.namespace import BaseNamespace, EventContext, event
from signaling.presenters import conversation_json, message_json
from storage import alerts, consults, duty, messages, residents
from storage.models import CareTeamRow, MessageRow, UserRow

log = logging.getLogger(__name__)

NAMESPACE = "/chat"
#: One after-hours auto-reply per conversation in this long, not one per message.
AUTO_REPLY_QUIET = timedelta(hours=4)


async def participant_ids(ctx: EventContext, conversation: Conversation) -> frozenset[int]:
    """Everyone ever admitted to the conversation's consult (empty for care-team conversations)."""
    consult_id = conversation.consult_id
    if consult_id is None:
        return frozenset()
    return await ctx.hub.participants.get(
        consult_id, lambda: consults.participant_user_ids(ctx.session, consult_id)
    )


async def conversation_for(ctx: EventContext, conversation_id: int) -> tuple[Conversation, str]:
    """A conversation the caller belongs to, and how they belong."""
    conversation = await ctx.hub.conversations.get(
        conversation_id, lambda: messages.get_conversation(ctx.session, conversation_id)
    )
    if conversation is None:
        raise NotFound(f"no conversation {conversation_id}", field="conversation_id")
    role = require_member(ctx.actor, conversation, await participant_ids(ctx, conversation))
    return conversation, role


async def members(ctx: EventContext, conversation: Conversation) -> dict[int, str]:
    """Who receives the conversation's messages: a consult's participants, or the resident's side and
    the care team."""
    if conversation.kind is ConversationKind.CONSULT:
        return dict.fromkeys(await participant_ids(ctx, conversation), "participant")
    return await ctx.hub.members.get(
        conversation.id, lambda: messages.members(ctx.session, conversation, ctx.today)
    )


@dataclass(frozen=True)
class TeamInfo:
    """What a resident's message needs to know about their team (cached for a moment)."""

    members: list[TeamMember]
    red_flags: tuple[str, ...]
    emergency_path: str | None


async def load_team(ctx: EventContext, team_id: int) -> TeamInfo:
    """The team's members on duty, red flags and emergency path."""
    team = await ctx.session.get(CareTeamRow, team_id)
    return TeamInfo(
        members=await duty.team_members(ctx.session, team_id, ctx.today),
        red_flags=await duty.red_flags(ctx.session, team_id),
        emergency_path=team.off_duty_message if team else None,
    )


def deliver(ctx: EventContext, message: Message, recipients: dict[int, str]) -> None:
    """Queue the message for every member's connections (after commit); the sending connection has
    it in its ack, the sender's other devices get it as an event."""
    body = message_json(message)
    for user_id in recipients:
        skip = ctx.sid if user_id == message.sender_user_id else None
        ctx.out.emit(NAMESPACE, "message", body, f"user:{user_id}", skip)


class ChatNamespace(BaseNamespace):
    """Messaging events; see docs/protocol.md."""

    async def connected(self, sid: str, actor: Actor) -> None:
        """Compliance officers hear sensitive-word flags as they happen."""
        if actor.role is Role.COMPLIANCE:
            await self.enter_room(sid, "role:compliance")

    @event(payloads.Empty, writes=False)
    async def on_list_conversations(self, ctx: EventContext, _: payloads.Empty) -> dict[str, Any]:
        """The caller's conversations with last message and unread count, newest activity first."""
        actor = ctx.actor
        resident_ids: set[int] = set()
        if actor.role is Role.RESIDENT and actor.resident_id is not None:
            resident_ids.add(actor.resident_id)
        for binding in actor.proxy_bindings:
            if binding.allows(ProxyScope.MESSAGE):
                resident_ids.add(binding.resident_id)
        team_ids = actor.team_ids if actor.role in (Role.DOCTOR, Role.NURSE) else frozenset()
        found = await messages.conversations_visible(
            ctx.session, user_id=actor.user_id, team_ids=team_ids, resident_ids=frozenset(resident_ids)
        )
        ids = [c.id for c in found]
        last = await messages.last_messages(ctx.session, ids)
        unread = await messages.unread_counts(ctx.session, actor.user_id, ids)
        names = await residents.names(ctx.session, {c.resident_id for c in found})
        found.sort(key=lambda c: last[c.id].id if c.id in last else 0, reverse=True)
        return {
            "conversations": [
                conversation_json(c, names.get(c.resident_id, ""), last.get(c.id), unread.get(c.id, 0))
                for c in found
            ]
        }

    @event(payloads.OpenConversation, audit_denied=True)
    async def on_open_conversation(self, ctx: EventContext, p: payloads.OpenConversation) -> dict[str, Any]:
        """The resident's conversation with their care team, created on first use."""
        team_id = await residents.contracted_team(ctx.session, p.resident_id, ctx.today)
        if team_id is None:
            raise RuleViolation(
                "the resident is not signed with a care team", code="no_care_team", field="resident_id"
            )
        candidate = Conversation(0, ConversationKind.CARE_TEAM, p.resident_id, team_id)
        require_member(ctx.actor, candidate, frozenset())
        conversation = await messages.care_team_conversation(ctx.session, p.resident_id, team_id)
        ctx.out.then(lambda: self._remember(conversation))
        names = await residents.names(ctx.session, {p.resident_id})
        last = await messages.last_messages(ctx.session, [conversation.id])
        unread = await messages.unread_counts(ctx.session, ctx.actor.user_id, [conversation.id])
        return {
            "conversation": conversation_json(
                conversation,
                names.get(p.resident_id, ""),
                last.get(conversation.id),
                unread.get(conversation.id, 0),
            )
        }

    @event(payloads.ConsultRef, audit_denied=True)
    async def on_open_consult_chat(self, ctx: EventContext, p: payloads.ConsultRef) -> dict[str, Any]:
        """The chat inside a consult, for its participants."""
        read_at = self.hub.participants.generation
        consult = await consults.get(ctx.session, p.consult_id)
        if consult is None:
            raise NotFound(f"no consult {p.consult_id}", field="consult_id")
        candidate = Conversation(
            0, ConversationKind.CONSULT, consult.resident_id, consult.team_id, consult.id
        )
        require_member(ctx.actor, candidate, frozenset(pt.user_id for pt in consult.participants))
        conversation = await messages.consult_conversation(
            ctx.session, consult.id, consult.resident_id, consult.team_id
        )
        everyone = frozenset(pt.user_id for pt in consult.participants)
        ctx.out.then(lambda: self._remember(conversation, (everyone, read_at)))
        names = await residents.names(ctx.session, {consult.resident_id})
        return {"conversation": conversation_json(conversation, names.get(consult.resident_id, ""), None, 0)}

    async def _remember(
        self, conversation: Conversation, participants: tuple[frozenset[int], int] | None = None
    ) -> None:
        """Chatting follows opening: keep what was just read for the messages to come."""
        await self.hub.conversations.put(conversation.id, conversation, self.hub.conversations.generation)
        if participants is not None and conversation.consult_id is not None:
            await self.hub.participants.put(conversation.consult_id, *participants)

    @event(payloads.SendMessage, audit_denied=True, writes=False)
    async def on_send_message(self, ctx: EventContext, p: payloads.SendMessage) -> dict[str, Any]:
        """Store and deliver a message; a retry with the same client_msg_id returns the stored one.

        Checks only read (mostly the hub's caches). A message that needs nothing else written goes to
        the hub's group-commit writer; one that raises an alert or an after-hours auto-reply is
        stored with them in a transaction of its own, all or nothing.
        """
        actor = ctx.actor
        conversation, role = await conversation_for(ctx, p.conversation_id)
        require_may_send(actor, p.kind)
        card = None
        if p.card is not None:
            try:
                card = Card(p.card.type, p.card.title, p.card.url, p.card.summary, p.card.due_date)
            except ValueError as err:
                raise RuleViolation(str(err), field="card") from err
        check_content(p.kind, p.text, p.attachment_id, card)
        if p.attachment_id is not None:
            attachment = await messages.get_attachment(ctx.session, p.attachment_id)
            if attachment is None or attachment.conversation_id != conversation.id:
                raise RuleViolation("attach a file uploaded to this conversation", field="attachment_id")
            if p.kind is MessageKind.IMAGE and not attachment.content_type.startswith("image/"):
                raise RuleViolation("an image message needs an image attachment", field="attachment_id")
        new = messages.NewMessage(
            created_at=ctx.now,
            conversation_id=conversation.id,
            kind=p.kind,
            sender_user_id=actor.user_id,
            sender_role=actor.role.value,
            sender_name=actor.display_name,
            text=p.text,
            on_behalf_of_resident_id=conversation.resident_id if role == "proxy" else None,
            attachment_id=p.attachment_id,
            card=card,
            client_msg_id=p.client_msg_id,
        )
        recipients = await members(ctx, conversation)
        if not await self._needs_more(ctx, conversation, role, new.text):
            message, created = await ctx.hub.writer.add(new)
            if created:
                deliver(ctx, message, recipients)
            return {"message": message_json(message), "duplicate": not created}
        async with ctx.hub.side_transaction() as session:
            wctx = dataclasses.replace(ctx, session=session)
            message, created = await messages.add_message(session, new)
            if created:
                deliver(wctx, message, recipients)
                if role in ("resident", "proxy") and conversation.kind is ConversationKind.CARE_TEAM:
                    await self._from_resident(wctx, conversation, message, recipients)
                await self._check_sensitive(wctx, conversation, message)
        return {"message": message_json(message), "duplicate": not created}

    async def _needs_more(self, ctx: EventContext, conversation: Conversation, role: str, text: str) -> bool:
        """Whether storing this message may write more than the message: an after-hours auto-reply,
        a red-flag or reading alert, a sensitive-word flag."""
        words = await self.hub.words.get("all", lambda: alerts.sensitive_words(ctx.session))
        if sensitive_words(text, words):
            return True
        if role not in ("resident", "proxy") or conversation.kind is not ConversationKind.CARE_TEAM:
            return False
        assert conversation.team_id is not None
        team = await ctx.hub.teams.get(
            conversation.team_id, lambda: load_team(ctx, conversation.team_id or 0)
        )
        local = ctx.now.astimezone(ZoneInfo(self.hub.timezone))
        if not doctors_on_duty(team.members, local):
            return True
        return bool(red_flags(text, team.red_flags) or dangerous_readings(text))

    async def _from_resident(
        self, ctx: EventContext, conversation: Conversation, message: Message, recipients: dict[int, str]
    ) -> None:
        """After hours, auto-reply; on a red flag or a dangerous reading, alert the on-call doctor."""
        assert conversation.team_id is not None
        team = await ctx.hub.teams.get(
            conversation.team_id, lambda: load_team(ctx, conversation.team_id or 0)
        )
        local = ctx.now.astimezone(ZoneInfo(self.hub.timezone))
        if not doctors_on_duty(team.members, local):
            await self._auto_reply(ctx, conversation, team, local, recipients)
        findings = red_flags(message.text, team.red_flags) + dangerous_readings(message.text)
        doctor = on_call(team.members, local)
        if not findings or doctor is None:
            return
        kind = (
            AlertKind.RED_FLAG if any(f.kind is AlertKind.RED_FLAG for f in findings) else AlertKind.READING
        )
        await self._alert(ctx, kind, conversation, message, findings, [doctor.user_id])

    async def _auto_reply(
        self,
        ctx: EventContext,
        conversation: Conversation,
        team: TeamInfo,
        local: datetime,
        recipients: dict[int, str],
    ) -> None:
        recent = await ctx.session.scalar(
            select(MessageRow.id).where(
                MessageRow.conversation_id == conversation.id,
                MessageRow.kind == MessageKind.AUTO_REPLY.value,
                MessageRow.created_at > ctx.now - AUTO_REPLY_QUIET,
            )
        )
        if recent is not None:
            return
        leader = next((m for m in team.members if m.is_doctor and m.team_role == "leader"), None)
        name = f"{leader.name}医生" if leader else "您的家庭医生"
        text = auto_reply(name, back_on_duty(team.members, local), team.emergency_path)
        reply, _ = await messages.add_message(
            ctx.session,
            messages.NewMessage(
                created_at=ctx.now,
                conversation_id=conversation.id,
                kind=MessageKind.AUTO_REPLY,
                sender_user_id=None,
                sender_role="system",
                sender_name=name,
                text=text,
            ),
        )
        deliver(ctx, reply, recipients)

    async def _check_sensitive(self, ctx: EventContext, conversation: Conversation, message: Message) -> None:
        words = await self.hub.words.get("all", lambda: alerts.sensitive_words(ctx.session))
        findings = sensitive_words(message.text, words)
        if not findings:
            return
        compliance = list(
            (
                await ctx.session.scalars(
                    select(UserRow.id).where(UserRow.role == Role.COMPLIANCE.value, UserRow.active.is_(True))
                )
            ).all()
        )
        await self._alert(
            ctx, AlertKind.SENSITIVE_WORD, conversation, message, findings, compliance, room="role:compliance"
        )

    async def _alert(
        self,
        ctx: EventContext,
        kind: AlertKind,
        conversation: Conversation,
        message: Message,
        findings: list[Finding],
        notified: list[int],
        room: str | None = None,
    ) -> None:
        row = await alerts.add(
            ctx.session,
            kind=kind,
            team_id=conversation.team_id,
            resident_id=conversation.resident_id,
            message_id=message.id,
            sender_user_id=message.sender_user_id,
            findings=findings,
            notified_user_ids=notified,
        )
        await ctx.audit(
            "alert",
            "message",
            message.id,
            resident_id=conversation.resident_id,
            detail={"kind": kind.value, "findings": [f.what for f in findings], "notified": notified},
        )
        names = await residents.names(ctx.session, {conversation.resident_id})
        body = {
            "id": row.id,
            "kind": kind.value,
            "conversation_id": conversation.id,
            "message_id": message.id,
            "resident_id": conversation.resident_id,
            "resident_name": names.get(conversation.resident_id, ""),
            "sender_name": message.sender_name,
            "findings": [f.what for f in findings],
            "created_at": ctx.now.isoformat(),
        }
        for target in [room] if room else [f"user:{uid}" for uid in notified]:
            ctx.out.emit(NAMESPACE, "alert", body, target)

    @event(payloads.SyncMessages, audit_denied=True)
    async def on_sync_messages(self, ctx: EventContext, p: payloads.SyncMessages) -> dict[str, Any]:
        """Messages after `after_id` (what a client missed while offline), and everyone's read marks."""
        conversation, _ = await conversation_for(ctx, p.conversation_id)
        found = await messages.messages_after(ctx.session, conversation.id, p.after_id, p.limit + 1)
        if found:  # what a client syncs has reached its device
            await messages.advance_marks(
                ctx.session, conversation.id, ctx.actor.user_id, delivered_up_to=found[: p.limit][-1].id
            )
        marks = await messages.read_marks(ctx.session, conversation.id)
        return {
            "messages": [message_json(m) for m in found[: p.limit]],
            "has_more": len(found) > p.limit,
            "read_marks": {
                str(uid): {"last_read_id": mark, "role": role} for uid, (mark, role) in marks.items()
            },
        }

    @event(payloads.MarkRead)
    async def on_mark_read(self, ctx: EventContext, p: payloads.MarkRead) -> dict[str, Any]:
        """Move the caller's read mark; the other members see a read receipt."""
        conversation, _ = await conversation_for(ctx, p.conversation_id)
        mark, _ = await messages.advance_marks(
            ctx.session, conversation.id, ctx.actor.user_id, read_up_to=p.up_to_id
        )
        recipients = await members(ctx, conversation)
        body = {
            "conversation_id": conversation.id,
            "user_id": ctx.actor.user_id,
            "role": ctx.actor.role.value,
            "up_to_id": mark,
        }
        for user_id in recipients:
            if user_id != ctx.actor.user_id:
                ctx.out.emit(NAMESPACE, "read", body, f"user:{user_id}")
        return {"last_read_id": mark}

    @event(payloads.MarkRead)
    async def on_ack_delivered(self, ctx: EventContext, p: payloads.MarkRead) -> dict[str, Any]:
        """The client has received messages up to `up_to_id` (delivery receipts, broadcast counts)."""
        conversation, _ = await conversation_for(ctx, p.conversation_id)
        _, delivered = await messages.advance_marks(
            ctx.session, conversation.id, ctx.actor.user_id, delivered_up_to=p.up_to_id
        )
        return {"last_delivered_id": delivered}

    @event(payloads.Typing, writes=False)
    async def on_typing(self, ctx: EventContext, p: payloads.Typing) -> dict[str, Any]:
        """Tell the other members the caller is typing (nothing is stored)."""
        conversation, _ = await conversation_for(ctx, p.conversation_id)
        recipients = await members(ctx, conversation)
        body = {
            "conversation_id": conversation.id,
            "user_id": ctx.actor.user_id,
            "display_name": ctx.actor.display_name,
            "typing": p.typing,
        }
        for user_id in recipients:
            if user_id != ctx.actor.user_id:
                ctx.out.emit(NAMESPACE, "typing", body, f"user:{user_id}")
        return {}


__all__ = ["NAMESPACE", "ChatNamespace", "member_role"]


async def deliver_now(sio: Any, message: Message, user_ids: list[int]) -> None:
    """Deliver a stored message to users' connections now (for messages stored outside an event)."""
    body = message_json(message)
    for user_id in user_ids:
        await sio.emit("message", body, room=f"user:{user_id}", namespace=NAMESPACE)
