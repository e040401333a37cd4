"""NLU inbox: messages the bot misunderstood and trainers' annotations (issue 5).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Reserved revision; filled in by its issue's work."""


def downgrade() -> None:
    """Reserved revision; filled in by its issue's work."""
