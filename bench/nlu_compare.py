"""Understanding benchmark: the project's pipeline, Rasa's default and a linear SVM, in one run.

Usage:
    .venv/bin/python bench/nlu_compare.py [--tasks business,massive]
        [--systems project,rasa_default,svm] [--epochs N] [--configs bench/configs/x.yml,...]

Systems:
    project       config.yml (NLU part), trained with ``rasa train nlu``
    rasa_default  Rasa's default pipeline for ``language: sv``: what a ``rasa init`` assistant
                  trains (read from the installed Rasa package)
    svm           TF-IDF char_wb 2-5 + word 1-2 n-grams into scikit-learn's LinearSVC
    <name>        with ``--configs bench/configs/<name>.yml``: a candidate config, trained and
                  scored like the project's (develop pipelines there, not in config.yml, which
                  every test run would retrain)

Tasks:
    business  train on data/nlu/, score tests/nlu/heldout.yml (never trained on)
    massive   MASSIVE sv-SE (Amazon, CC BY 4.0): train on the train split, score the dev split
              (60 intents; intents only, converted to Rasa NLU YAML in a temporary directory)

Every Rasa system trains in its own process with a fresh RASA_CACHE_DIRECTORY, so its time is
a full training (process start and imports included: about 10 s here). The SVM's time is its
fit in this process. Model size: the Rasa model archive (.tar.gz); the SVM's gzipped pickle.
"score s" is the time to score the whole test file in this process: for Rasa loading the model
archive (Agent.load) and parsing every example one by one, for the SVM one batch predict.
``--epochs N`` overrides the epochs of DIETClassifier and ResponseSelector for a quick run: the
figures are then NOT the real ones, and the table says so. Times are wall clock on this machine:
compare within a run (the ratio column), not across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (
    MASSIVE_CITATION,
    MASSIVE_DIR,
    REPO,
    Config,
    accuracy_and_macro_f1,
    load_massive,
    load_rasa_examples,
    override_epochs,
    project_config,
    rasa_default_config,
    train_rasa_nlu,
    train_svm,
    write_rasa_nlu,
)

SYSTEMS: dict[str, Callable[[], Config]] = {
    "project": project_config,
    "rasa_default": rasa_default_config,
}
ALL_SYSTEMS = ["project", "rasa_default", "svm"]
TASKS = ["business", "massive"]


@dataclass(frozen=True)
class Row:
    """One system's figures on one task."""

    task: str
    system: str
    accuracy: float
    macro_f1: float
    train_seconds: float
    size_bytes: int
    score_seconds: float
    epochs: str


def task_files(task: str, workdir: Path) -> tuple[Path, Path]:
    """Training data and test file of a task, as Rasa NLU YAML."""
    if task == "business":
        return REPO / "data" / "nlu", REPO / "tests" / "nlu" / "heldout.yml"
    if task == "massive":
        train = write_rasa_nlu(load_massive(MASSIVE_DIR / "sv-SE.train.jsonl"),
                               workdir / "massive-train.yml")  # fmt: skip
        dev = write_rasa_nlu(load_massive(MASSIVE_DIR / "sv-SE.dev.jsonl"),
                             workdir / "massive-dev.yml")  # fmt: skip
        return train, dev
    raise ValueError(f"unknown task {task!r}")


def _epochs_label(config: Config) -> str:
    epochs = [
        str(c.get("epochs", "300"))
        for c in config.get("pipeline") or []
        if c["name"] in {"DIETClassifier", "ResponseSelector"}
    ]
    return "/".join(epochs) or "-"


def run_rasa(task: str, system: str, config: Config, train: Path, test: Path,
             workdir: Path) -> Row:  # fmt: skip
    from bot.nlu_eval import evaluate_model

    run = train_rasa_nlu(config, train, workdir, f"{task}-{system}")
    started = time.monotonic()
    report = asyncio.run(evaluate_model(run.model, test))
    score_seconds = time.monotonic() - started
    return Row(task, system, report.intent_accuracy, report.macro_f1, run.seconds,
               run.size_bytes, score_seconds, _epochs_label(config))  # fmt: skip


def run_svm(task: str, train: Path, test: Path) -> Row:
    run = train_svm(load_rasa_examples(train))
    test_pairs = load_rasa_examples(test)
    started = time.monotonic()
    predicted = list(run.model.predict([t for t, _ in test_pairs]))
    score_seconds = time.monotonic() - started
    accuracy, f1 = accuracy_and_macro_f1([i for _, i in test_pairs], [str(p) for p in predicted])
    return Row(task, "svm", accuracy, f1, run.seconds, run.size_bytes, score_seconds, "-")


def table(rows: list[Row]) -> str:
    """The results as a Markdown table, with the training time ratio to the SVM of each task."""
    lines = [
        "| task | system | DIET/RS epochs | intent acc | macro F1 | train s | time ratio vs SVM "
        "| model size | score s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        svm = next((r for r in rows if r.task == row.task and r.system == "svm"), None)
        ratio = f"{row.train_seconds / svm.train_seconds:.0f}x" if svm else "-"
        size = (f"{row.size_bytes / 1e6:.1f} MB" if row.size_bytes >= 1e6
                else f"{row.size_bytes / 1e3:.0f} kB")  # fmt: skip
        lines.append(
            f"| {row.task} | {row.system} | {row.epochs} | {row.accuracy:.3f} | "
            f"{row.macro_f1:.3f} | {row.train_seconds:.1f} | {ratio} | {size} | "
            f"{row.score_seconds:.1f} |"
        )
    return "\n".join(lines)


def candidate(path: Path) -> Callable[[], Config]:
    """A system reading a candidate Rasa config file."""

    def config() -> Config:
        loaded: Config = yaml.safe_load(path.read_text())
        return loaded

    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--systems", default=",".join(ALL_SYSTEMS))
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="override DIET/ResponseSelector epochs (quick run, not real figures)",
    )
    parser.add_argument(
        "--configs",
        default="",
        help="comma-separated candidate Rasa configs, each an extra system named after its file",
    )
    args = parser.parse_args()  # fmt: skip
    tasks, systems = args.tasks.split(","), args.systems.split(",")
    for path in filter(None, args.configs.split(",")):
        SYSTEMS[Path(path).stem] = candidate(Path(path))
        ALL_SYSTEMS.append(Path(path).stem)
        systems.insert(-1 if systems[-1] == "svm" else len(systems), Path(path).stem)
    for name in tasks:
        if name not in TASKS:
            parser.error(f"unknown task {name!r}")
    for name in systems:
        if name not in ALL_SYSTEMS:
            parser.error(f"unknown system {name!r}")
    if args.epochs is not None:
        print(
            f"NOTE: DIET/ResponseSelector epochs overridden to {args.epochs}: the Rasa "
            "figures below are a quick run, not the configured pipelines.",
            flush=True,
        )
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="nlu-compare-") as tmp:
        workdir = Path(tmp)
        for task in tasks:
            train, test = task_files(task, workdir)
            for system in systems:
                print(f"[{time.strftime('%H:%M:%S')}] {task}: {system} ...", flush=True)
                if system == "svm":
                    rows.append(run_svm(task, train, test))
                else:
                    config = override_epochs(SYSTEMS[system](), args.epochs)
                    rows.append(run_rasa(task, system, config, train, test, workdir))
                print(f"    {rows[-1]}", flush=True)
    print()
    print(table(rows))
    if "massive" in tasks:
        print(f"\nData: {MASSIVE_CITATION}.")
    if args.epochs is not None:
        print(f"Epochs overridden to {args.epochs} (--epochs): not the configured figures.")


if __name__ == "__main__":
    main()
