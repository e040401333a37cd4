"""Officials' app: users, login throttling, assignment and response-time columns on cases.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from alembic import op
import sqlalchemy as sa

from bot.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("email", sa.String(200), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("unit", sa.String(40), nullable=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failure_at", UTCDateTime(), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
    )
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("created_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("assigned_to", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("first_response_due_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("resolution_due_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("first_response_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("first_response_channel", sa.String(16), nullable=True))
        batch.add_column(sa.Column("first_response_seconds", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("closed_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("resolution_seconds", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_cases_assigned_to_users", "users", ["assigned_to"], ["id"], ondelete="RESTRICT"
        )
        batch.create_index("ix_cases_unit_created_date", ["unit", "created_date"])
        batch.create_index("ix_cases_status_first_due", ["status", "first_response_due_at"])
        batch.create_index("ix_cases_status_resolution_due", ["status", "resolution_due_at"])


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_status_resolution_due")
        batch.drop_index("ix_cases_status_first_due")
        batch.drop_index("ix_cases_unit_created_date")
        batch.drop_constraint("fk_cases_assigned_to_users", type_="foreignkey")
        for column in (
            "resolution_seconds",
            "closed_at",
            "first_response_seconds",
            "first_response_channel",
            "first_response_at",
            "resolution_due_at",
            "first_response_due_at",
            "assigned_to",
            "created_date",
        ):
            batch.drop_column(column)
    op.drop_table("login_throttle")
    op.drop_table("users")
