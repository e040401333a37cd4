"""Helpers shared by the benchmark scripts: Rasa training runs, data sets, baselines, servers.

Nothing here is timed or started at import; the scripts in bench/ call these helpers.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import pickle
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
RASA = str(Path(sys.executable).with_name("rasa"))
MASSIVE_DIR = REPO.parent / "shared" / "data" / "massive-sv-SE"
MASSIVE_CITATION = (
    "MASSIVE sv-SE (Amazon, CC BY 4.0; FitzGerald et al. 2022, https://github.com/alexa/massive)"
)

Config = dict[str, Any]


def bench_env(**extra: str) -> dict[str, str]:
    """Environment for Rasa subprocesses: telemetry off, quiet TensorFlow."""
    return {
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        **extra,
    }


# --- Rasa configurations and training -------------------------------------------------------


def rasa_default_config(language: str = "sv") -> Config:
    """Rasa's default config as the installed package ships it, for ``language``.

    ``rasa init`` writes ``pipeline:`` and ``policies:`` empty (the defaults commented out);
    Rasa then fills both in from this file, so training with it is what a stock assistant runs.
    """
    import rasa.engine.recipes

    path = Path(rasa.engine.recipes.__file__).parent / "config_files" / "default_config.yml"
    config: Config = yaml.safe_load(path.read_text())
    config["language"] = language
    return config


def project_config() -> Config:
    """The project's config.yml."""
    config: Config = yaml.safe_load((REPO / "config.yml").read_text())
    return config


def override_epochs(config: Config, epochs: int | None) -> Config:
    """A copy of ``config`` whose DIETClassifier and ResponseSelector train ``epochs`` epochs."""
    if epochs is None:
        return config
    pipeline = [
        {**c, "epochs": epochs} if c["name"] in {"DIETClassifier", "ResponseSelector"} else c
        for c in config.get("pipeline") or []
    ]
    return {**config, "pipeline": pipeline}


@dataclass(frozen=True)
class TrainRun:
    """One ``rasa train nlu`` run."""

    model: Path
    seconds: float
    size_bytes: int


def train_rasa_nlu(config: Config, nlu: Path, workdir: Path, name: str) -> TrainRun:
    """Train an NLU-only model with a fresh training cache, so the time is a full training.

    Args:
        config: The Rasa config (recipe, language, pipeline).
        nlu: NLU training data (file or directory).
        workdir: Where the config, the cache and the model go.
        name: Name of this run (file names).

    Returns:
        The model archive, wall-clock seconds of the ``rasa train nlu`` process (process start
        and imports included) and the archive's size.
    """
    config_path = workdir / f"{name}.yml"
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    out = workdir / f"model-{name}"
    env = bench_env(RASA_CACHE_DIRECTORY=str(workdir / f"cache-{name}"))
    started = time.monotonic()
    result = subprocess.run(
        [RASA, "train", "nlu", "--config", str(config_path), "--nlu", str(nlu),
         "--out", str(out), "--quiet"],
        cwd=REPO, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"rasa train nlu ({name}) failed:\n{result.stderr[-4000:]}")
    models = sorted(out.glob("*.tar.gz"))
    if not models:
        raise RuntimeError(f"rasa train nlu ({name}) wrote no model")
    return TrainRun(models[-1], seconds, models[-1].stat().st_size)


# --- Data sets --------------------------------------------------------------------------------


def load_rasa_examples(path: Path) -> list[tuple[str, str]]:
    """(text, intent) pairs of a Rasa NLU file or directory (entity markup removed)."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    return [(str(m.get("text")), str(m.get("intent"))) for m in data.intent_examples]


def load_massive(path: Path) -> list[tuple[str, str]]:
    """(utterance, intent) pairs of a MASSIVE JSON-lines file."""
    pairs = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                record = json.loads(line)
                pairs.append((str(record["utt"]).strip(), str(record["intent"])))
    return pairs


def _plain(text: str) -> str:
    # Rasa reads [text](entity) markup in examples; MASSIVE utterances are plain text.
    return " ".join(text.translate(str.maketrans("[](){}", "      ")).split())


def write_rasa_nlu(pairs: Iterable[tuple[str, str]], path: Path) -> Path:
    """Write (text, intent) pairs as a Rasa 3 NLU YAML file, intents only."""
    by_intent: dict[str, list[str]] = {}
    for text, intent in pairs:
        plain = _plain(text)
        if plain and plain not in by_intent.setdefault(intent, []):
            by_intent[intent].append(plain)
    nlu = [
        {"intent": intent, "examples": "".join(f"- {t}\n" for t in texts)}
        for intent, texts in sorted(by_intent.items())
    ]

    class _Literal(yaml.SafeDumper):
        pass

    def _block(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Literal.add_representer(str, _block)
    path.write_text(
        yaml.dump({"version": "3.1", "nlu": nlu}, Dumper=_Literal, allow_unicode=True,
                  sort_keys=False, width=10_000),
        encoding="utf-8",
    )  # fmt: skip
    return path


# --- The TF-IDF + linear SVM baseline ---------------------------------------------------------


def svm_pipeline() -> Any:
    """TF-IDF of character (char_wb 2-5) and word (1-2) n-grams into a linear SVM."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.svm import LinearSVC

    features = FeatureUnion(
        [
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
            ("word", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True)),
        ]
    )
    return Pipeline([("features", features), ("svm", LinearSVC(C=1.0, random_state=0))])


@dataclass(frozen=True)
class SvmRun:
    """A trained baseline: the fitted pipeline, fit seconds and gzipped pickle size."""

    model: Any
    seconds: float
    size_bytes: int


def train_svm(pairs: Sequence[tuple[str, str]]) -> SvmRun:
    """Fit the baseline on (text, intent) pairs; time the fit, measure the pickled model."""
    model = svm_pipeline()
    started = time.monotonic()
    model.fit([t for t, _ in pairs], [i for _, i in pairs])
    seconds = time.monotonic() - started
    size = len(gzip.compress(pickle.dumps(model)))
    return SvmRun(model, seconds, size)


def accuracy_and_macro_f1(gold: Sequence[str], predicted: Sequence[str]) -> tuple[float, float]:
    """Intent accuracy and macro F1 over the gold intents (as bot.nlu_eval.NluReport does)."""
    if not gold:
        return 0.0, 0.0
    accuracy = sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold)
    scores = []
    for intent in sorted(set(gold)):
        tp = sum(g == intent == p for g, p in zip(gold, predicted, strict=True))
        fp = sum(p == intent != g for g, p in zip(gold, predicted, strict=True))
        fn = sum(g == intent != p for g, p in zip(gold, predicted, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return accuracy, sum(scores) / len(scores)


# --- Latency statistics -----------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation (numpy's default); NaN if empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def peak_rss_mib(pid: int) -> float:
    """Peak resident set size (VmHWM) of a process in MiB, from /proc; NaN if unavailable."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return math.nan
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return math.nan


# --- Servers on loopback ----------------------------------------------------------------------


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 240) -> None:
    """Wait until ``url`` answers below 500, or fail with the end of the server's log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited early:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except urllib.error.HTTPError as error:
            if error.code < 500:
                return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not come up in {timeout} s:\n{log.read_text()[-4000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a server we started, then kill it if it does not exit."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
