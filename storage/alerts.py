"""Alerts raised by messages, and the admin-managed sensitive-word list."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from consult.alerts import AlertKind, Finding
from storage.models import AlertRow, SensitiveWordRow


async def sensitive_words(session: AsyncSession) -> list[str]:
    """Every sensitive word."""
    return list((await session.scalars(select(SensitiveWordRow.word).order_by(SensitiveWordRow.word))).all())


async def add_sensitive_word(session: AsyncSession, word: str, created_by: int | None) -> bool:
    """Add a word; False when it was already listed."""
    if await session.scalar(select(SensitiveWordRow.id).where(SensitiveWordRow.word == word)) is not None:
        return False
    session.add(SensitiveWordRow(word=word, created_by=created_by))
    await session.flush()
    return True


async def remove_sensitive_word(session: AsyncSession, word: str) -> bool:
    """Remove a word; False when it was not listed."""
    result = await session.execute(delete(SensitiveWordRow).where(SensitiveWordRow.word == word))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def add(
    session: AsyncSession,
    *,
    kind: AlertKind,
    team_id: int | None,
    resident_id: int,
    message_id: int,
    sender_user_id: int | None,
    findings: list[Finding],
    notified_user_ids: list[int],
) -> AlertRow:
    """Record an alert and whom it was sent to."""
    row = AlertRow(
        kind=kind.value,
        team_id=team_id,
        resident_id=resident_id,
        message_id=message_id,
        sender_user_id=sender_user_id,
        findings=[f.what for f in findings],
        notified_user_ids=notified_user_ids,
    )
    session.add(row)
    await session.flush()
    return row


async def listing(
    session: AsyncSession, *, kinds: list[AlertKind], team_ids: frozenset[int] | None = None, limit: int = 100
) -> list[AlertRow]:
    """Alerts of the given kinds (for the given teams), newest first."""
    stmt = select(AlertRow).where(AlertRow.kind.in_([k.value for k in kinds]))
    if team_ids is not None:
        stmt = stmt.where(AlertRow.team_id.in_(team_ids))
    return list((await session.scalars(stmt.order_by(AlertRow.id.desc()).limit(limit))).all())
