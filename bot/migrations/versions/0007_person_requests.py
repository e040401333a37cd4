"""Audit of exports and erasures of one person's data (issue 8).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from alembic import op
import sqlalchemy as sa

from bot.models import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("subject_hash", sa.String(64), nullable=False),
        sa.Column("subject_masked", sa.String(200), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("conversations", sa.Integer(), nullable=False),
        sa.Column("tracker_events", sa.Integer(), nullable=False),
        sa.Column("inbox_items", sa.Integer(), nullable=False),
        sa.Column("case_references", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_person_requests_subject_hash", "person_requests", ["subject_hash"])
    op.create_index("ix_person_requests_created_at", "person_requests", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_person_requests_created_at", table_name="person_requests")
    op.drop_index("ix_person_requests_subject_hash", table_name="person_requests")
    op.drop_table("person_requests")
