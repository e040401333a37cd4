"""Command line for operators: ``lotsen <command>`` (or ``python -m bot.cli``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path

from bot.settings import REPO_ROOT, get_settings

logger = logging.getLogger(__name__)


def _migrate(_args: argparse.Namespace) -> int:
    from bot.db import migrate

    migrate(get_settings().database_url)
    print("Database migrated.")
    return 0


def _build_spacy(args: argparse.Namespace) -> int:
    from bot.spacy_sv import build_pipeline, pipeline_dir

    destination = pipeline_dir(get_settings().models_dir)
    built = build_pipeline(destination, force=args.force)
    print(f"Swedish spaCy pipeline {'built' if built else 'up to date'} at {destination}")
    return 0


def _seed_demo(_args: argparse.Namespace) -> int:
    from bot.demo import seed_demo_cases
    from bot.services import case_repository

    created = seed_demo_cases(case_repository())
    print(f"Demo data: {created} new demo cases.")
    return 0


def _check_knowledge(_args: argparse.Namespace) -> int:
    from bot.knowledge import KnowledgeError, default_knowledge_dir, load_knowledge

    try:
        knowledge = load_knowledge(default_knowledge_dir())
    except KnowledgeError as error:
        print(error, file=sys.stderr)
        return 1
    print(
        f"Knowledge OK: {len(knowledge.permits)} permit types, {len(knowledge.units)} units, "
        f"{len(knowledge.plots)} plots{' (DEMO DATA)' if knowledge.demo else ''}."
    )
    return 0


def _eval_nlu(args: argparse.Namespace) -> int:
    from bot.nlu_eval import evaluate_model

    report = asyncio.run(evaluate_model(Path(args.model), Path(args.test_file)))
    print(json.dumps(report.summary(), indent=2, ensure_ascii=False))
    return 0


def _web(args: argparse.Namespace) -> int:
    from bot.web.app import create_app

    app = create_app()
    app.run(host=args.host, port=args.port, access_log=False, motd=False)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with one sub-command per operation."""
    parser = argparse.ArgumentParser(prog="lotsen", description="Företagslotsen operations")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="upgrade the database schema").set_defaults(func=_migrate)
    spacy = sub.add_parser("build-spacy", help="build the Swedish spaCy pipeline")
    spacy.add_argument("--force", action="store_true")
    spacy.set_defaults(func=_build_spacy)
    sub.add_parser("seed-demo", help="add demo cases").set_defaults(func=_seed_demo)
    sub.add_parser("check-knowledge", help="validate knowledge/*.yml").set_defaults(
        func=_check_knowledge
    )
    evaluate = sub.add_parser("eval-nlu", help="score a model on a held-out NLU file")
    evaluate.add_argument("--model", required=True)
    evaluate.add_argument("--test-file", default=str(REPO_ROOT / "tests" / "nlu" / "heldout.yml"))
    evaluate.set_defaults(func=_eval_nlu)
    web = sub.add_parser("web", help="serve the web app")
    web.add_argument("--host", default="127.0.0.1")
    web.add_argument("--port", type=int, default=8000)
    web.set_defaults(func=_web)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a command.

    Args:
        argv: Arguments (defaults to ``sys.argv[1:]``).

    Returns:
        The exit code.
    """
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
