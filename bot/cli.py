"""Command line for operators: ``lotsen <command>`` (or ``python -m bot.cli``)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.settings import REPO_ROOT, get_settings

if TYPE_CHECKING:
    from bot.model_registry import ModelRecord, ModelRegistry
    from bot.person_data import PersonDataService

logger = logging.getLogger(__name__)

PASSWORD_ENV = "LOTSEN_PASSWORD"  # noqa: S105 - a variable name, not a secret


def _migrate(_args: argparse.Namespace) -> int:
    from bot.db import migrate
    from bot.services import case_repository

    migrate(get_settings().database_url)
    filled = case_repository().backfill_due_times()
    print(f"Database migrated.{f' Due times computed for {filled} cases.' if filled else ''}")
    return 0


def _read_password(env_name: str) -> str | None:
    password = os.environ.get(env_name)
    if password:
        return password
    if not sys.stdin.isatty():
        print(f"Set {env_name} or run in a terminal to type the password.", file=sys.stderr)
        return None
    first = getpass.getpass("Lösenord: ")
    if first != getpass.getpass("Lösenord igen: "):
        print("The passwords differ.", file=sys.stderr)
        return None
    return first


def _create_user(args: argparse.Namespace) -> int:
    from bot.accounts import AccountError, UserRepository
    from bot.db import get_engine

    role = getattr(args, "role", "admin")
    unit = getattr(args, "unit", None)
    if unit is not None:
        from bot.knowledge import get_knowledge

        if unit not in get_knowledge().units:
            print(f"Unknown unit {unit!r}.", file=sys.stderr)
            return 2
    password = _read_password(PASSWORD_ENV)
    if password is None:
        return 2
    users = UserRepository(get_engine(get_settings().database_url))
    try:
        user = users.create(args.email, args.name or args.email, role, password, unit=unit)
    except AccountError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"Created {user.role} {user.email} (id {user.id}).")
    return 0


def _due_soon(args: argparse.Namespace) -> int:
    from bot.models import utcnow
    from bot.services import case_repository

    now = utcnow()
    found = case_repository().due_soon(now, args.hours)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "reference": item.case.reference,
                        "id": item.case.id,
                        "unit": item.case.unit,
                        "topic": item.case.topic,
                        "status": item.case.status,
                        "due": item.what,
                        "due_at": item.due_at.isoformat(),
                        "hours_left": round((item.due_at - now).total_seconds() / 3600, 2),
                    }
                    for item in found
                ],
                ensure_ascii=False,
            )
        )
        return 0
    if not found:
        print(f"No open case falls due within {args.hours:g} hours.")
    for item in found:
        label = "first response" if item.what == "first_response" else "resolution"
        print(f"{item.case.reference}\t{item.case.unit}\t{label}\tdue {item.due_at.isoformat()}")
    return 0


def _retention(args: argparse.Namespace) -> int:
    from bot.db import get_engine
    from bot.retention import open_tracker_for_deletion, run_retention

    settings = get_settings()
    result = run_retention(
        get_engine(settings.database_url),
        open_tracker_for_deletion(settings.tracker_store_url),
        conversation_days=args.conversation_days,
        case_months=args.case_months,
        dry_run=args.dry_run,
    )
    verb = "would be" if result.dry_run else "were"
    print(
        f"{result.conversations_deleted} conversations without a case {verb} deleted "
        f"({result.events_deleted} events); {result.cases_anonymised} closed cases {verb} "
        "anonymised."
    )
    return 0


def _collect_inbox(args: argparse.Namespace) -> int:
    from bot.db import get_engine
    from bot.inbox import Inbox

    settings = get_settings()
    inbox = Inbox(settings, get_engine(settings.database_url))
    added = inbox.collect()
    if args.write:
        inbox.write_training_file()
    page = inbox.repository.groups(per_page=1)
    print(
        f"{added} new messages in the NLU inbox; {page.total_messages} open in "
        f"{page.total_groups} groups, {page.conflicts} conflicts."
    )
    return 0


def _person_service() -> PersonDataService:
    from bot.db import get_engine
    from bot.person_data import PersonDataService
    from bot.web.security import load_secret

    settings = get_settings()
    return PersonDataService(
        get_engine(settings.database_url),
        settings.tracker_store_url,
        load_secret(settings.var_dir),
    )


def _person(args: argparse.Namespace) -> int:
    from bot.person_data import PersonDataError, Subject, export_json

    try:
        subject = Subject.parse(args.email, args.phone)
    except PersonDataError as error:
        print(error, file=sys.stderr)
        return 2
    service = _person_service()
    actor = f"cli:{getpass.getuser()}"
    if args.action == "export":
        document = service.export(subject, actor)
        stamp = str(document["generated_at"])[:19].replace(":", "")
        out = Path(args.out or f"personuppgifter-{stamp}.json")
        # Personal data: readable only by the owner.
        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(export_json(document))
        print(
            f"Exported {len(document['cases'])} cases and {len(document['conversations'])} "
            f"conversations about {subject.masked()} to {out}."
        )
        return 0
    match = service.find(subject)
    summary = (
        f"{len(match.cases)} cases ({', '.join(match.references) or 'none'}), "
        f"{len(match.conversation_ids)} conversations, {match.inbox_items} inbox items"
    )
    staff = " An officials' account with this e-mail is staff data and is kept." * bool(
        match.staff_account
    )
    if not args.yes:
        print(f"Would erase {summary} about {subject.masked()}.{staff} Add --yes to erase.")
        return 1
    result = service.erase(subject, actor)
    print(
        f"Erased: {result.cases_anonymised} cases anonymised, {result.conversations} "
        f"conversations ({result.tracker_events} events) and {result.inbox_items} inbox items "
        f"deleted.{staff}"
    )
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


def _registry() -> ModelRegistry:
    from bot.db import get_engine
    from bot.model_registry import ModelRegistry

    return ModelRegistry(get_engine(get_settings().database_url))


def _train(args: argparse.Namespace) -> int:
    from bot.model_registry import TrainingBusyError
    from bot.training import (
        ensure_active_model,
        progress_line,
        run_worker,
        start_training,
        wait_for_training,
    )

    settings = get_settings()
    if args.run is not None:
        return run_worker(settings, args.run)
    registry = _registry()

    def show(model: ModelRecord) -> None:
        print(progress_line(model, registry), flush=True)

    try:
        if args.if_changed:
            print(ensure_active_model(settings, registry, show))
            return 0
        queued = start_training(settings, f"cli:{getpass.getuser()}", registry)
    except (TrainingBusyError, RuntimeError) as error:
        print(error, file=sys.stderr)
        return 1
    model = wait_for_training(settings, registry, queued.id, show)
    if model.status != "trained":
        print(f"Träningen misslyckades:\n{model.failure_reason}", file=sys.stderr)
        return 1
    print(f"Modell {model.id} är tränad: {model.file_name}. Jämför: lotsen models")
    return 0


def _models(_args: argparse.Namespace) -> int:
    from bot.model_registry import HELDOUT, percent

    registry = _registry()
    active = registry.active()
    print("id\tstatus\taktiv\ttestfilen\tstartad av\tfil")
    for model in registry.models():
        heldout = registry.evaluation(model.id, HELDOUT)
        score = percent(heldout.report.intent_accuracy) if heldout else "–"
        mark = "*" if active is not None and active.id == model.id else ""
        print(
            f"{model.id}\t{model.status_sv}\t{mark}\t{score}\t{model.started_by}\t"
            f"{model.file_name or '–'}"
        )
    return 0


def _activate(args: argparse.Namespace) -> int:
    from bot.model_registry import ActivationError, activate

    try:
        record = activate(
            get_settings(),
            _registry(),
            args.id,
            f"cli:{getpass.getuser()}",
            "admin",
            override_reason=args.override,
            rollback=args.command == "rollback",
            reload_servers=not args.offline,
        )
    except ActivationError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"Modell {record.model_id} används nu ({record.servers} Rasa-servrar bytte modell).")
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
    admin = sub.add_parser(
        "create-admin", help=f"create an admin account (password from ${PASSWORD_ENV} or prompt)"
    )
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", default=None)
    admin.set_defaults(func=_create_user)
    user = sub.add_parser(
        "create-user", help=f"create an account (password from ${PASSWORD_ENV} or prompt)"
    )
    user.add_argument("--email", required=True)
    user.add_argument("--name", default=None)
    user.add_argument("--role", choices=("official", "trainer", "admin"), default="official")
    user.add_argument("--unit", default=None, help="unit id from knowledge/routing.yml")
    user.set_defaults(func=_create_user)
    due = sub.add_parser("due-soon", help="list open cases falling due within some hours")
    due.add_argument("--hours", type=float, default=4.0)
    due.add_argument("--json", action="store_true", help="print JSON for scripts")
    due.set_defaults(func=_due_soon)
    retention = sub.add_parser(
        "retention",
        help="delete old conversations without a case, anonymise old closed cases",
        description="The periods are the municipality's decision (dokumenthanteringsplan).",
    )
    retention.add_argument("--conversation-days", type=int, required=True)
    retention.add_argument("--case-months", type=int, required=True)
    retention.add_argument("--dry-run", action="store_true", help="count only, change nothing")
    retention.set_defaults(func=_retention)
    person = sub.add_parser(
        "person",
        help="export or erase everything stored about one person (GDPR art. 15/17)",
        description="Find the person by e-mail and/or phone; every run is audited.",
    )
    person.add_argument("action", choices=("export", "erase"))
    person.add_argument("--email", default=None)
    person.add_argument("--phone", default=None)
    person.add_argument("--out", default=None, help="export: file to write (mode 0600)")
    person.add_argument("--yes", action="store_true", help="erase: really erase")
    person.set_defaults(func=_person)
    train = sub.add_parser("train", help="train a model in the background and wait for it")
    train.add_argument("--run", type=int, default=None, help=argparse.SUPPRESS)
    train.add_argument(
        "--if-changed",
        action="store_true",
        help="make model: train and activate only when no model serves the current data",
    )
    train.set_defaults(func=_train)
    sub.add_parser("models", help="list the model registry").set_defaults(func=_models)
    for name, text in (("activate", "serve a model"), ("rollback", "serve an earlier model")):
        switch = sub.add_parser(name, help=f"{text} on every Rasa server (PUT /model)")
        switch.add_argument("id", type=int)
        switch.add_argument("--override", default=None, help="reason to serve a refused model")
        switch.add_argument("--offline", action="store_true", help="only set models/active.tar.gz")
        switch.set_defaults(func=_activate)
    inbox = sub.add_parser(
        "collect-inbox", help="collect misunderstood messages from the tracker store (cron)"
    )
    inbox.add_argument(
        "--write", action="store_true", help="also rewrite data/nlu/inbox.yml from the database"
    )
    inbox.set_defaults(func=_collect_inbox)
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
