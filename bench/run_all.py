"""Run every benchmark of issue 7 in turn (what ``make bench`` does) and print their tables.

Usage:
    nice -n 10 .venv/bin/python bench/run_all.py [--full] [--only nlu,load,retrain]

Quick (default; about 30 minutes on the 2-core development machine when it is otherwise idle):

* ``bench/nlu_compare.py --tasks business``: project, Rasa's default and the linear SVM on the
  business held-out file (Rasa's default trains its real 100 epochs: most of the time);
* ``bench/load.py --levels 1,20 --duration 20``: the project (one process, and two Sanic
  workers with Redis's lock store) beside the stock assistant;
* ``bench/retrain.py``: retrain to live through the model registry.

``--full`` (several hours): MASSIVE sv-SE as well, with every system's real epochs (Rasa's
default DIET alone takes about 30 s per epoch there), 1, 20 and 100 users for 30 s each, the
production profile too (PostgreSQL, Redis and nginx from Debian's packages), and the first
training with an empty cache. Each script's output is printed as it comes, each step
with its command and wall-clock time; compare the systems within one run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent

QUICK = {
    "nlu": ["nlu_compare.py", "--tasks", "business"],
    "load": [
        "load.py",
        "--systems",
        "stock,project,project_workers",
        "--levels",
        "1,20",
        "--duration",
        "20",
    ],
    "retrain": ["retrain.py"],
}
FULL = {
    "nlu": ["nlu_compare.py", "--tasks", "business,massive"],
    "load": [
        "load.py",
        "--systems",
        "stock,project,project_workers,production",
        "--levels",
        "1,20,100",
        "--duration",
        "30",
    ],
    "retrain": ["retrain.py", "--fresh-cache"],
}


def commands(full: bool, only: list[str]) -> list[list[str]]:
    """The benchmark commands to run, in order.

    Args:
        full: The long settings (MASSIVE, 100 users) instead of the quick ones.
        only: Names of the benchmarks to run (``nlu``, ``load``, ``retrain``).

    Returns:
        One argument list per benchmark, starting with this Python.
    """
    chosen = FULL if full else QUICK
    return [[sys.executable, str(BENCH / chosen[name][0]), *chosen[name][1:]] for name in only]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="MASSIVE, 100 users (hours)")
    parser.add_argument("--only", default=",".join(QUICK), help="nlu,load,retrain")
    args = parser.parse_args()
    only = [name for name in args.only.split(",") if name]
    unknown = sorted(set(only) - set(QUICK))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    failed = 0
    for command in commands(args.full, only):
        shown = " ".join([Path(command[1]).relative_to(BENCH.parent).as_posix(), *command[2:]])
        print(f"\n## {shown}  (started {time.strftime('%H:%M:%S')})", flush=True)
        started = time.monotonic()
        result = subprocess.run(command, check=False)
        print(f"## took {time.monotonic() - started:.0f} s, exit code {result.returncode}")
        failed += result.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
