"""Covering index for the dashboard figures.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = [
    "unit",
    "topic",
    "created_date",
    "status",
    "first_response_at",
    "first_response_due_at",
    "first_response_seconds",
    "resolution_due_at",
]


def upgrade() -> None:
    op.create_index("ix_cases_dashboard", "cases", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_cases_dashboard", table_name="cases")
