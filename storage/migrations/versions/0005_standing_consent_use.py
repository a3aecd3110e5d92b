"""standing consent: who withdrew it, and the consult answers taken from it

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 22:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("standing_consent_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_consents_standing_consent_id_standing_consents"),
            "standing_consents",
            ["standing_consent_id"],
            ["id"],
        )
    with op.batch_alter_table("standing_consents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("withdrawn_by_user_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_standing_consents_withdrawn_by_user_id_users"),
            "users",
            ["withdrawn_by_user_id"],
            ["id"],
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("standing_consents", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_standing_consents_withdrawn_by_user_id_users"), type_="foreignkey"
        )
        batch_op.drop_column("withdrawn_by_user_id")
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_consents_standing_consent_id_standing_consents"), type_="foreignkey"
        )
        batch_op.drop_column("standing_consent_id")
