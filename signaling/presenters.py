"""How messages, conversations and queue entries look on the wire (docs/protocol.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from consult.messaging import Conversation, Message
from consult.waiting_room import QueueEntry, RoomMember


def message_json(message: Message) -> dict[str, Any]:
    """A message as clients receive it."""
    card = message.card
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "kind": message.kind.value,
        "text": message.text,
        "sender": {
            "user_id": message.sender_user_id,
            "role": message.sender_role,
            "name": message.sender_name,
        },
        "on_behalf_of_resident_id": message.on_behalf_of_resident_id,
        "attachment": (
            {
                "id": message.attachment.id,
                "url": f"/api/attachments/{message.attachment.id}",
                "filename": message.attachment.filename,
                "content_type": message.attachment.content_type,
                "size": message.attachment.size,
            }
            if message.attachment
            else None
        ),
        "card": (
            {
                "type": card.type.value,
                "title": card.title,
                "url": card.url,
                "summary": card.summary,
                "due_date": card.due_date.isoformat() if card.due_date else None,
            }
            if card
            else None
        ),
        "client_msg_id": message.client_msg_id,
        "created_at": message.created_at.isoformat(),
    }


def conversation_json(
    conversation: Conversation, resident_name: str, last: Message | None, unread: int
) -> dict[str, Any]:
    """A conversation in the inbox."""
    return {
        "id": conversation.id,
        "kind": conversation.kind.value,
        "resident_id": conversation.resident_id,
        "resident_name": resident_name,
        "team_id": conversation.team_id,
        "consult_id": conversation.consult_id,
        "last_message": message_json(last) if last else None,
        "unread": unread,
    }


def queue_json(entries: list[QueueEntry], now: datetime) -> list[dict[str, Any]]:
    """The waiting queue, in order, with how long each resident has waited."""
    return [
        {
            "position": i,
            "consult_id": e.consult_id,
            "resident_id": e.resident_id,
            "resident_name": e.resident_name,
            "kind": e.kind.value,
            "checked_in_at": e.checked_in_at.isoformat(),
            "waited_seconds": e.waited_seconds(now),
            "presence": e.presence.value,
        }
        for i, e in enumerate(entries, start=1)
    ]


def member_json(member: RoomMember) -> dict[str, Any]:
    """A room member in a presence update."""
    return {
        "user_id": member.user_id,
        "role": member.role,
        "display_name": member.display_name,
        "presence": member.presence.value,
        "since": member.since.isoformat(),
    }
