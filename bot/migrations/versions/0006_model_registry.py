"""Model registry and background trainings (issue 5).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from alembic import op
import sqlalchemy as sa

from bot.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nlu_models",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("file_name", sa.String(200), nullable=True, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("running_slot", sa.Integer(), nullable=True, unique=True),
        sa.Column("started_by", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("worker_pid", sa.Integer(), nullable=True),
        sa.Column("phase", sa.String(80), nullable=True),
        sa.Column("epoch", sa.Integer(), nullable=True),
        sa.Column("epochs", sa.Integer(), nullable=True),
        sa.Column("epochs_started_at", UTCDateTime(), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("git_commit", sa.String(64), nullable=True),
        sa.Column("data_hash", sa.String(64), nullable=True),
        sa.Column("rasa_model_id", sa.String(64), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=True),
    )
    op.create_index("ix_nlu_models_rasa_model_id", "nlu_models", ["rasa_model_id"])
    op.create_table(
        "nlu_model_evaluations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "model_id",
            sa.Integer(),
            sa.ForeignKey("nlu_models.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("dataset", sa.String(16), nullable=False),
        sa.Column("dataset_hash", sa.String(64), nullable=False),
        sa.Column("examples", sa.Integer(), nullable=False),
        sa.Column("intent_accuracy", sa.Float(), nullable=False),
        sa.Column("macro_f1", sa.Float(), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index(
        "ix_nlu_model_evaluations_model_dataset", "nlu_model_evaluations", ["model_id", "dataset"]
    )
    op.create_table(
        "nlu_model_activations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "model_id",
            sa.Integer(),
            sa.ForeignKey("nlu_models.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column(
            "previous_model_id",
            sa.Integer(),
            sa.ForeignKey("nlu_models.id", ondelete="RESTRICT"),
            nullable=True,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("servers", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_nlu_model_activations_model_id", "nlu_model_activations", ["model_id"])


def downgrade() -> None:
    op.drop_index("ix_nlu_model_activations_model_id", table_name="nlu_model_activations")
    op.drop_table("nlu_model_activations")
    op.drop_index("ix_nlu_model_evaluations_model_dataset", table_name="nlu_model_evaluations")
    op.drop_table("nlu_model_evaluations")
    op.drop_index("ix_nlu_models_rasa_model_id", table_name="nlu_models")
    op.drop_table("nlu_models")
