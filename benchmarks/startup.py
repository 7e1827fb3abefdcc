"""Start-up of the package and of the command line (issue "A newcomer ... fast start"): CPU seconds
(user + system, of the child process) and wall seconds of each command, median of ``--repeats``
fresh processes, and the modules that cost the most to import (``python -X importtime``).

Run: ``python benchmarks/startup.py [--repeats 5] [--label NAME]``. Adds an entry under NAME
(default: the checkout's commit) to benchmarks/results/startup.json; docs/benchmarks.md
("Start-up") gives the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "startup.json"
CLI = str(Path(sys.executable).parent / "rewardrnn")
COMMANDS = {
    "import rewardrnn": [sys.executable, "-c", "import rewardrnn"],
    "rewardrnn --help": [CLI, "--help"],
    "rewardrnn train --help": [CLI, "train", "--help"],
    "rewardrnn tasks": [CLI, "tasks"],
    "import jax (for comparison)": [sys.executable, "-c", "import jax.numpy"],
}


def cost(argv: list[str]) -> tuple[float, float]:
    """(CPU s, wall s) of one fresh process running ``argv``."""
    before = os.times()
    started = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = os.times()
    return (after.children_user - before.children_user) + (after.children_system - before.children_system), wall


def heaviest_imports(argv: list[str], n: int = 6) -> list[dict]:
    """The top-level imports (not nested in another) that cost the most, cumulative ms."""
    stderr = subprocess.run([sys.executable, "-X", "importtime", *argv[1:]] if argv[0] == sys.executable
                            else [sys.executable, "-X", "importtime", argv[0], *argv[1:]],
                            capture_output=True, text=True).stderr
    rows = []
    for line in stderr.splitlines():
        found = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)", line)
        if found and not found.group(2):
            rows.append({"module": found.group(3), "cumulative_ms": round(int(found.group(1)) / 1000, 1)})
    return sorted(rows, key=lambda r: -r["cumulative_ms"])[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--label", default=None, help="entry name [default: the commit, git rev-parse --short HEAD]")
    args = parser.parse_args()
    label = args.label or subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                         text=True).stdout.strip()
    results = {"date": time.strftime("%Y-%m-%d"), "load_average": os.getloadavg()[0], "commands": {}}
    for name, argv in COMMANDS.items():
        cost(argv)  # warm the file cache
        runs = [cost(argv) for _ in range(args.repeats)]
        results["commands"][name] = {"cpu_s": round(statistics.median(r[0] for r in runs), 2),
                                     "wall_s": round(statistics.median(r[1] for r in runs), 2),
                                     "heaviest_imports": heaviest_imports(argv)}
        print(name, results["commands"][name], flush=True)
    saved = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    saved[label] = results
    RESULTS.write_text(json.dumps(saved, indent=1))


if __name__ == "__main__":
    main()
