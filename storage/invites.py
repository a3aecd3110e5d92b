"""Specialist invites: single use, expiring, and only the token's hash is stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from consult.waiting_room import Invite
from storage.models import InviteRow


def token_hash(token: str) -> str:
    """What is stored instead of the token: a database reader cannot use an invite."""
    return hashlib.sha256(token.encode()).hexdigest()


async def create(session: AsyncSession, consult_id: int, created_by: int, expires_at: datetime) -> str:
    """A new invite for the consult; returns the token (shown once, in the invite link)."""
    token = secrets.token_urlsafe(24)
    session.add(
        InviteRow(
            consult_id=consult_id, token_hash=token_hash(token), created_by=created_by, expires_at=expires_at
        )
    )
    await session.flush()
    return token


async def find(session: AsyncSession, token: str) -> tuple[InviteRow, Invite] | None:
    """The invite a token names, as a row to update and as the domain object rules check."""
    row = await session.scalar(select(InviteRow).where(InviteRow.token_hash == token_hash(token)))
    if row is None:
        return None
    return row, Invite(consult_id=row.consult_id, expires_at=row.expires_at, used_at=row.used_at)
