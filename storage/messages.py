"""Conversations, messages, read marks and attachments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from consult.messaging import Attachment, Card, CardType, Conversation, ConversationKind, Message, MessageKind
from consult.roles import ProxyScope
from storage import consults
from storage.models import (
    AttachmentRow,
    ConsultParticipantRow,
    ConversationRow,
    MessageRow,
    ProxyBindingRow,
    ReadMarkRow,
    TeamMembershipRow,
    UserRow,
)


def conversation_of(row: ConversationRow) -> Conversation:
    """The domain view of a conversation row."""
    return Conversation(
        id=row.id,
        kind=ConversationKind(row.kind),
        resident_id=row.resident_id,
        team_id=row.team_id,
        consult_id=row.consult_id,
    )


def card_to_json(card: Card | None) -> dict[str, Any] | None:
    """A card as stored."""
    if card is None:
        return None
    return {
        "type": card.type.value,
        "title": card.title,
        "url": card.url,
        "summary": card.summary,
        "due_date": card.due_date.isoformat() if card.due_date else None,
    }


def card_from_json(data: dict[str, Any] | None) -> Card | None:
    """A stored card back as a dataclass."""
    if not data:
        return None
    due = data.get("due_date")
    return Card(
        type=CardType(data["type"]),
        title=data["title"],
        url=data.get("url"),
        summary=data.get("summary", ""),
        due_date=date.fromisoformat(due) if due else None,
    )


def message_of(row: MessageRow) -> Message:
    """The domain view of a message row."""
    return Message(
        id=row.id,
        conversation_id=row.conversation_id,
        kind=MessageKind(row.kind),
        created_at=row.created_at,
        sender_user_id=row.sender_user_id,
        sender_role=row.sender_role,
        sender_name=row.sender_name,
        text=row.text,
        on_behalf_of_resident_id=row.on_behalf_of_resident_id,
        attachment=(
            Attachment(
                row.attachment.id, row.attachment.filename, row.attachment.content_type, row.attachment.size
            )
            if row.attachment is not None
            else None
        ),
        card=card_from_json(row.card),
        client_msg_id=row.client_msg_id,
    )


async def get_conversation(session: AsyncSession, conversation_id: int) -> Conversation | None:
    """One conversation."""
    row = await session.get(ConversationRow, conversation_id)
    return None if row is None else conversation_of(row)


async def _get_or_create(session: AsyncSession, **key: Any) -> Conversation:
    stmt = select(ConversationRow).filter_by(**key)
    row = await session.scalar(stmt)
    if row is None:
        try:
            async with session.begin_nested():
                row = ConversationRow(**key)
                session.add(row)
        except IntegrityError:
            # Another request created it between our read and write: use theirs.
            row = await session.scalar(stmt)
            assert row is not None
    return conversation_of(row)


async def care_team_conversation(session: AsyncSession, resident_id: int, team_id: int) -> Conversation:
    """The resident's conversation with the team, created on first use."""
    return await _get_or_create(
        session,
        kind=ConversationKind.CARE_TEAM.value,
        resident_id=resident_id,
        team_id=team_id,
        consult_id=None,
    )


async def consult_conversation(
    session: AsyncSession, consult_id: int, resident_id: int, team_id: int | None
) -> Conversation:
    """The chat of one consult, created on first use."""
    return await _get_or_create(
        session,
        kind=ConversationKind.CONSULT.value,
        resident_id=resident_id,
        team_id=team_id,
        consult_id=consult_id,
    )


async def conversations_visible(
    session: AsyncSession,
    *,
    user_id: int,
    team_ids: frozenset[int],
    resident_ids: frozenset[int],
) -> list[Conversation]:
    """Care-team conversations of the given teams or residents, and chats of consults the user is in."""
    clauses: list[ColumnElement[bool]] = [
        ConversationRow.consult_id.in_(
            select(ConsultParticipantRow.consult_id).where(ConsultParticipantRow.user_id == user_id)
        )
    ]
    care_team = ConversationRow.kind == ConversationKind.CARE_TEAM.value
    if team_ids:
        clauses.append(and_(care_team, ConversationRow.team_id.in_(team_ids)))
    if resident_ids:
        clauses.append(and_(care_team, ConversationRow.resident_id.in_(resident_ids)))
    rows = await session.scalars(select(ConversationRow).where(or_(*clauses)).order_by(ConversationRow.id))
    return [conversation_of(r) for r in rows]


@dataclass(frozen=True)
class _Inserts:
    keyed: Any
    keyless: Any


def _inserts(insert: Any) -> _Inserts:
    table = MessageRow.__table__
    return _Inserts(
        keyed=insert(table)
        .on_conflict_do_nothing(index_elements=["sender_user_id", "client_msg_id"])
        .returning(table.c.id, table.c.sender_user_id, table.c.client_msg_id),
        keyless=insert(table).returning(table.c.id),
    )


_INSERTS = {"sqlite": _inserts(sqlite_insert), "postgresql": _inserts(postgresql_insert)}


@dataclass(frozen=True)
class NewMessage:
    """A message to store (the server assigns its id)."""

    conversation_id: int
    kind: MessageKind
    sender_user_id: int | None
    sender_role: str | None
    sender_name: str
    created_at: datetime
    text: str = ""
    on_behalf_of_resident_id: int | None = None
    attachment_id: str | None = None
    card: Card | None = None
    client_msg_id: str | None = None
    broadcast_id: int | None = None

    @property
    def retry_key(self) -> tuple[int, str] | None:
        """What makes a retry the same message: the sender and their client's id for it."""
        if self.sender_user_id is None or self.client_msg_id is None:
            return None
        return self.sender_user_id, self.client_msg_id

    def values(self) -> dict[str, Any]:
        """The row's column values."""
        return {
            "conversation_id": self.conversation_id,
            "kind": self.kind.value,
            "sender_user_id": self.sender_user_id,
            "sender_role": self.sender_role,
            "sender_name": self.sender_name,
            "text": self.text,
            "on_behalf_of_resident_id": self.on_behalf_of_resident_id,
            "attachment_id": self.attachment_id,
            "card": card_to_json(self.card),
            "client_msg_id": self.client_msg_id,
            "broadcast_id": self.broadcast_id,
            "created_at": self.created_at,
        }


async def add_messages(session: AsyncSession, batch: list[NewMessage]) -> list[tuple[Message, bool]]:
    """Store messages in one statement; a retry of a stored message (same sender and client id)
    gets the first one back, not a copy. Returns each message and whether it was created now.

    The work is `add_messages_sync`'s, on the session's connection.
    """
    return await session.run_sync(lambda sync: add_messages_sync(sync.connection(), batch))


def add_messages_sync(connection: Connection, batch: list[NewMessage]) -> list[tuple[Message, bool]]:
    """`add_messages` on a synchronous connection (the message writer's own SQLite thread calls it).

    One `INSERT … VALUES … ON CONFLICT DO NOTHING RETURNING`: the unique constraint decides, so two
    retries racing on two nodes (or within the batch) still store one message, and only a retry costs
    a second statement.
    """
    if not batch:
        return []
    first_of: dict[tuple[int, str], int] = {}
    rows: list[NewMessage] = []
    for item in batch:
        key = item.retry_key
        if key is not None:
            if key in first_of:
                continue  # a retry in the same batch: answered with the first below
            first_of[key] = len(rows)
        rows.append(item)
    statements = _INSERTS[connection.dialect.name]
    keyed = [item.values() for item in rows if item.retry_key is not None]
    by_key: dict[tuple[int, str], int] = {}
    if keyed:
        # Executed with many parameter sets: SQLAlchemy sends them as multi-row VALUES and caches the
        # compiled statement, which a `.values([...])` per batch size would not.
        returned = connection.execute(statements.keyed, keyed)
        # Rows come back in no promised order: match them by their retry key.
        by_key = {(uid, cid): new_id for new_id, uid, cid in returned}
    keyless: dict[int, int] = {}  # position in `batch` → id
    for position, item in enumerate(batch):
        if item.retry_key is None:
            keyless[position] = connection.execute(statements.keyless, item.values()).scalar_one()
    attachment_ids = {item.attachment_id for item in rows if item.attachment_id}
    attachments = {
        a.id: Attachment(a.id, a.filename, a.content_type, a.size)
        for a in (
            connection.execute(select(AttachmentRow.__table__).where(AttachmentRow.id.in_(attachment_ids)))
            if attachment_ids
            else []
        )
    }
    stored: dict[tuple[int, str], tuple[Message, bool]] = {}
    out: list[tuple[Message, bool]] = []
    for position, item in enumerate(batch):
        key = item.retry_key
        if key is not None and key in stored:
            out.append((stored[key][0], False))
            continue
        new_id = by_key.get(key) if key is not None else keyless[position]
        if new_id is None:
            assert key is not None  # only keyed rows can conflict
            with Session(connection) as orm:  # joins the connection's transaction, never ends it
                sender, client_id = key
                existing = orm.scalar(
                    select(MessageRow).where(
                        MessageRow.sender_user_id == sender, MessageRow.client_msg_id == client_id
                    )
                )
                assert existing is not None
                result = (message_of(existing), False)
        else:
            result = (_message(new_id, item, attachments.get(item.attachment_id or "")), True)
        if key is not None:
            stored[key] = result
        out.append(result)
    return out


async def add_message(session: AsyncSession, item: NewMessage) -> tuple[Message, bool]:
    """Store one message; see `add_messages`."""
    return (await add_messages(session, [item]))[0]


def _message(new_id: int, item: NewMessage, attachment: Attachment | None) -> Message:
    return Message(
        id=new_id,
        conversation_id=item.conversation_id,
        kind=item.kind,
        created_at=item.created_at,
        sender_user_id=item.sender_user_id,
        sender_role=item.sender_role,
        sender_name=item.sender_name,
        text=item.text,
        on_behalf_of_resident_id=item.on_behalf_of_resident_id,
        attachment=attachment,
        card=item.card,
        client_msg_id=item.client_msg_id,
    )


async def messages_after(
    session: AsyncSession, conversation_id: int, after_id: int, limit: int
) -> list[Message]:
    """Messages with ids above `after_id`, oldest first, at most `limit`."""
    rows = await session.scalars(
        select(MessageRow)
        .where(MessageRow.conversation_id == conversation_id, MessageRow.id > after_id)
        .order_by(MessageRow.id)
        .limit(limit)
    )
    return [message_of(r) for r in rows]


async def last_messages(session: AsyncSession, conversation_ids: list[int]) -> dict[int, Message]:
    """The newest message of each conversation."""
    if not conversation_ids:
        return {}
    newest = (
        select(func.max(MessageRow.id))
        .where(MessageRow.conversation_id.in_(conversation_ids))
        .group_by(MessageRow.conversation_id)
    )
    rows = await session.scalars(select(MessageRow).where(MessageRow.id.in_(newest)))
    return {r.conversation_id: message_of(r) for r in rows}


async def advance_marks(
    session: AsyncSession,
    conversation_id: int,
    user_id: int,
    *,
    read_up_to: int = 0,
    delivered_up_to: int = 0,
) -> tuple[int, int]:
    """Move the user's read and delivered marks forward (never back; read implies delivered).

    Returns the (read, delivered) marks now in force.
    """
    delivered_up_to = max(delivered_up_to, read_up_to)
    row = await session.get(ReadMarkRow, (conversation_id, user_id))
    if row is None:
        try:
            async with session.begin_nested():
                row = ReadMarkRow(
                    conversation_id=conversation_id,
                    user_id=user_id,
                    last_read_id=read_up_to,
                    last_delivered_id=delivered_up_to,
                )
                session.add(row)
            return read_up_to, delivered_up_to
        except IntegrityError:
            row = await session.get(ReadMarkRow, (conversation_id, user_id), populate_existing=True)
            assert row is not None
    row.last_read_id = max(row.last_read_id, read_up_to)
    row.last_delivered_id = max(row.last_delivered_id, delivered_up_to)
    await session.flush()
    return row.last_read_id, row.last_delivered_id


async def unread_counts(session: AsyncSession, user_id: int, conversation_ids: list[int]) -> dict[int, int]:
    """Messages from others above the user's read mark, per conversation."""
    if not conversation_ids:
        return {}
    mark = (
        select(ReadMarkRow.last_read_id)
        .where(ReadMarkRow.conversation_id == MessageRow.conversation_id, ReadMarkRow.user_id == user_id)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(MessageRow.conversation_id, func.count())
        .where(
            MessageRow.conversation_id.in_(conversation_ids),
            or_(MessageRow.sender_user_id.is_(None), MessageRow.sender_user_id != user_id),
            MessageRow.id > func.coalesce(mark, 0),
        )
        .group_by(MessageRow.conversation_id)
    )
    return {cid: int(n) for cid, n in rows}


async def read_marks(session: AsyncSession, conversation_id: int) -> dict[int, tuple[int, str]]:
    """Every member's read mark in a conversation and their account role, by user id."""
    rows = await session.execute(
        select(ReadMarkRow.user_id, ReadMarkRow.last_read_id, UserRow.role)
        .join(UserRow, UserRow.id == ReadMarkRow.user_id)
        .where(ReadMarkRow.conversation_id == conversation_id)
    )
    return {uid: (mark, role) for uid, mark, role in rows}


async def add_attachment(
    session: AsyncSession,
    *,
    blob_id: str,
    conversation_id: int,
    uploaded_by: int,
    filename: str,
    content_type: str,
    size: int,
) -> AttachmentRow:
    """Record an uploaded attachment (its bytes are already in the blob store)."""
    row = AttachmentRow(
        id=blob_id,
        conversation_id=conversation_id,
        uploaded_by=uploaded_by,
        filename=filename,
        content_type=content_type,
        size=size,
    )
    session.add(row)
    await session.flush()
    return row


async def get_attachment(session: AsyncSession, attachment_id: str) -> AttachmentRow | None:
    """One attachment."""
    return await session.get(AttachmentRow, attachment_id)


async def members(session: AsyncSession, conversation: Conversation, today: date) -> dict[int, str]:
    """Who receives the conversation's messages: user id → how they belong.

    A care-team conversation reaches the resident's own account, proxies bound with the message
    scope, and the team's current doctors and nurses; a consult's chat reaches its participants.
    """
    if conversation.kind is ConversationKind.CONSULT:
        assert conversation.consult_id is not None
        return dict.fromkeys(
            await consults.participant_user_ids(session, conversation.consult_id), "participant"
        )
    out: dict[int, str] = {}
    for uid in await session.scalars(
        select(UserRow.id).where(UserRow.resident_id == conversation.resident_id, UserRow.active.is_(True))
    ):
        out[uid] = "resident"
    bindings = await session.execute(
        select(ProxyBindingRow.proxy_user_id, ProxyBindingRow.scopes).where(
            ProxyBindingRow.resident_id == conversation.resident_id, ProxyBindingRow.revoked_at.is_(None)
        )
    )
    for uid, scopes in bindings:
        if ProxyScope.MESSAGE.value in scopes:
            out[uid] = "proxy"
    if conversation.team_id is not None:
        team = await session.execute(
            select(UserRow.id)
            .join(TeamMembershipRow, TeamMembershipRow.practitioner_id == UserRow.practitioner_id)
            .where(
                TeamMembershipRow.team_id == conversation.team_id,
                TeamMembershipRow.joined_on <= today,
                or_(TeamMembershipRow.left_on.is_(None), TeamMembershipRow.left_on > today),
                UserRow.active.is_(True),
            )
        )
        for (uid,) in team:
            out[uid] = "team"
    return out
