"""NLU inbox: messages the bot misunderstood and trainers' annotations (issue 5).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from alembic import op
import sqlalchemy as sa

from bot.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("message_key", sa.String(64), nullable=False, unique=True),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("shape", sa.Text(), nullable=False),
        sa.Column("shape_key", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("predicted_intent", sa.String(64), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("predicted_permit_type", sa.String(40), nullable=True),
        sa.Column("predicted_permit_span", sa.String(200), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("collected_at", UTCDateTime(), nullable=False),
        sa.Column("flagged_by", sa.String(200), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("intent", sa.String(64), nullable=True),
        sa.Column("permit_type", sa.String(40), nullable=True),
        sa.Column("permit_start", sa.Integer(), nullable=True),
        sa.Column("permit_end", sa.Integer(), nullable=True),
        sa.Column("annotated_by", sa.String(200), nullable=True),
        sa.Column("annotated_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_inbox_messages_sender_id", "inbox_messages", ["sender_id"])
    op.create_index("ix_inbox_messages_status_shape", "inbox_messages", ["status", "shape_key"])
    op.create_index("ix_inbox_messages_shape_status", "inbox_messages", ["shape_key", "status"])
    op.create_table(
        "inbox_cursor",
        sa.Column("source", sa.String(32), primary_key=True),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("inbox_cursor")
    op.drop_index("ix_inbox_messages_shape_status", "inbox_messages")
    op.drop_index("ix_inbox_messages_status_shape", "inbox_messages")
    op.drop_index("ix_inbox_messages_sender_id", "inbox_messages")
    op.drop_table("inbox_messages")
