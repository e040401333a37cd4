"""Retrain to live: one new annotated example until the running server answers with it.

Usage:
    .venv/bin/python bench/retrain.py [--modes full,finetune] [--epoch-fraction 0.2]

Trains the project's model (config.yml, domain.yml, data/ copied to a temporary directory) with
a fresh cache and serves it with ``rasa run --enable-api`` on a free port of 127.0.0.1. Then, per
mode, adds one new annotated ``ask_permit`` example to the copied data and times:

* train: ``rasa train`` into the temporary directory, with the warm cache of the first
  training (what a trainer's retrain on the same machine gets): ``full`` retrains from scratch
  what changed, ``finetune`` is ``rasa train --finetune <previous model> --epoch-fraction F``;
* load: ``PUT /model`` with the new archive until it returns;
* answer: the first ``/model/parse`` of the new example after that.

It prints a table and stops the server itself.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import RASA, REPO, bench_env, stop, wait_for
from bot.stack import free_port

NEW_EXAMPLES = {
    "full": "måste vi ha [bygglov](permit_type) för en ny cykelverkstad i containern på gården",
    "finetune": "krävs [bygglov](permit_type) för att sätta upp ett växthus vid vår plantskola",
}


def _request(method: str, url: str, body: dict[str, object] | None = None) -> object:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=600) as response:
        text = response.read().decode()
    return json.loads(text) if text else None


def _train(project: Path, out: Path, env: dict[str, str], extra: list[str]) -> tuple[Path, float]:
    started = time.monotonic()
    result = subprocess.run(
        [RASA, "train", "--config", str(project / "config.yml"), "--domain",
         str(project / "domain.yml"), "--data", str(project / "data"), "--out", str(out),
         "--quiet", *extra],
        cwd=REPO, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"rasa train failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return max(out.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime), seconds


def _add_example(project: Path, text: str) -> None:
    path = project / "data" / "nlu" / "ask_permit.yml"
    lines = path.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip() == "examples: |") + 1
    lines.insert(at, f"    - {text}")
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modes", default="full,finetune")
    parser.add_argument("--epoch-fraction", type=float, default=0.2)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="retrain-") as tmp:
        workdir = Path(tmp)
        project = workdir / "project"
        project.mkdir()
        for name in ("config.yml", "domain.yml"):
            shutil.copy(REPO / name, project / name)
        shutil.copytree(REPO / "data", project / "data")
        env = bench_env(RASA_CACHE_DIRECTORY=str(workdir / "cache"))
        print(f"[{time.strftime('%H:%M:%S')}] first training (fresh cache) ...", flush=True)
        model, first_seconds = _train(project, workdir / "models", env, [])
        print(f"    {first_seconds:.0f} s", flush=True)
        port = free_port()
        endpoints = workdir / "endpoints.yml"
        endpoints.write_text(
            f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {workdir / 'tracker.db'}\n"
        )
        log = workdir / "rasa.log"
        url = f"http://127.0.0.1:{port}"
        with log.open("wb") as out:
            server = subprocess.Popen(
                [RASA, "run", "--enable-api", "-m", str(model), "--endpoints", str(endpoints),
                 "-i", "127.0.0.1", "-p", str(port)],
                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
            try:
                wait_for(f"{url}/", server, log)
                for mode in args.modes.split(","):
                    example = NEW_EXAMPLES[mode]
                    plain = example.replace("[bygglov](permit_type)", "bygglov")
                    print(f"[{time.strftime('%H:%M:%S')}] {mode} ...", flush=True)
                    started = time.monotonic()
                    _add_example(project, example)
                    extra = (
                        ["--finetune", str(model), "--epoch-fraction", str(args.epoch_fraction)]
                        if mode == "finetune"
                        else []
                    )
                    model, train_seconds = _train(project, workdir / f"models-{mode}", env, extra)
                    loaded = time.monotonic()
                    _request("PUT", f"{url}/model", {"model_file": str(model)})
                    load_seconds = time.monotonic() - loaded
                    parse = _request("POST", f"{url}/model/parse", {"text": plain})
                    total = time.monotonic() - started
                    intent = (parse or {}).get("intent", {}) if isinstance(parse, dict) else {}
                    rows.append((mode, train_seconds, load_seconds, total, intent.get("name")))
                    print(f"    {rows[-1]}", flush=True)
            finally:
                stop(server)
    print()
    print(f"first training, fresh cache: {first_seconds:.0f} s")
    print("| mode | train s | model load s | retrain to live s | new example parsed as |")
    print("|---|---|---|---|---|")
    for mode, train_seconds, load_seconds, total, intent in rows:
        print(f"| {mode} | {train_seconds:.0f} | {load_seconds:.1f} | {total:.0f} | {intent} |")
    if "finetune" in args.modes:
        print(f"finetune: --epoch-fraction {args.epoch_fraction}")


if __name__ == "__main__":
    main()
