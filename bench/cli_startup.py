"""How fast the CLI answers: `latent-lab --help` and a mistyped config name beside `trl --help`,
each a fresh process, measured in the same run (interleaved, so load on the machine hits all
three alike), with the ratio to trl's. Target: at most 2x trl's.

    python bench/cli_startup.py [--runs 5]

Prints the median wall seconds of each command over --runs runs, the ratio to trl, and the
load average; the last line of stdout is the same as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent  # the virtualenv's console scripts sit beside its python
COMMANDS = {
    "latent-lab --help": (["latent-lab", "--help"], 0),
    "latent-lab build gssm --config no_such_config": (
        ["latent-lab", "build", "gssm", "--config", "no_such_config"],
        2,
    ),
    "trl --help": (["trl", "--help"], 0),
}
REFERENCE = "trl --help"


def executable(name: str) -> str:
    path = BIN / name
    if path.is_file():
        return str(path)
    found = shutil.which(name)
    if found is None:
        sys.exit(f"{name}: not found beside {sys.executable} or on PATH; install the project")
    return found


def wall_seconds(argv: list[str], expected_code: int) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != expected_code:
        sys.exit(
            f"{' '.join(argv)}: exit {done.returncode}, expected {expected_code}\n"
            f"{done.stderr[-2000:]}"
        )
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each command (median)")
    args = parser.parse_args()
    commands = {
        label: ([executable(argv[0]), *argv[1:]], code) for label, (argv, code) in COMMANDS.items()
    }
    for argv, code in commands.values():  # warm the file cache; not timed
        wall_seconds(argv, code)
    times: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(args.runs):  # interleaved: a burst of load hits every command alike
        for label, (argv, code) in commands.items():
            times[label].append(wall_seconds(argv, code))
    medians = {label: statistics.median(values) for label, values in times.items()}
    reference = medians[REFERENCE]
    print(f"median wall seconds over {args.runs} runs (fresh processes)")
    for label, median in medians.items():
        ratio = "" if label == REFERENCE else f"   {median / reference:.2f}x {REFERENCE}"
        print(f"  {label:<48} {median:6.3f} s{ratio}")
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    summary = {
        "runs": args.runs,
        "median_s": medians,
        "ratio_to_trl": {k: v / reference for k, v in medians.items() if k != REFERENCE},
        "loadavg": load,
    }
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
