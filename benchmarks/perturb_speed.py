"""Speed of ``rewardrnn perturb`` on a trained rdm-fixed network (issue target: 2,000 trials in
under 10 s after start-up on a 2-core CPU).

Each measurement is a fresh process (so compilation is included, as for a user's first call):
the import of rewardrnn, then ``perturb`` with 200 trials per condition of rdm-fixed's 10
conditions, i.e. 2,000 intact and 2,000 perturbed trials on the same draws, timed inside the
process; a second call in the same process shows the cost without compilation. The manipulations:
silencing the 10 units with the largest readout weights (whole trial), and stimulating the 10
units that favour CHOOSE-RIGHT during the stimulus (the epoch-gated path).

Run: ``python benchmarks/perturb_speed.py [--run RUN]``; without ``--run`` it trains rdm-fixed
seed 2 to the paper's criterion in a scratch folder first. Results:
``benchmarks/results/perturb_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "perturb_speed.json"

ONE = """
import json, sys, time
t0 = time.perf_counter()
import rewardrnn
t_import = time.perf_counter() - t0
options = json.loads(sys.argv[2])
times = []
for name in ("first", "second"):
    t = time.perf_counter()
    summary = rewardrnn.perturb(sys.argv[1], trials_per_condition=200, name=f"bench-{name}", overwrite=True, **options)
    times.append(round(time.perf_counter() - t, 2))
print(json.dumps({"options": options, "import_s": round(t_import, 2), "first_call_s": times[0],
                  "second_call_s": times[1], "trials_each": summary["intact"]["n_trials"],
                  "process_s": round(time.perf_counter() - t0, 2),
                  "p_correct": [summary["intact"]["p_correct"], summary["perturbed"]["p_correct"]]}))
"""

MANIPULATIONS = [{"silence": "readout:10"},
                 {"stimulate": "readout:CHOOSE-RIGHT:10=1", "during": "stimulus"}]


def trained_rdm_fixed(run: str | None) -> str:
    if run is None:
        run = str(Path(tempfile.mkdtemp()) / "rdm-fixed")
        subprocess.run([sys.executable, "-m", "rewardrnn.cli", "train", "rdm-fixed", "--seed", "2", "-q", "-o", run],
                       check=True)
    return run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run")
    args = parser.parse_args()
    run = trained_rdm_fixed(args.run)
    env = dict(os.environ, REWARDRNN_COMPILATION_CACHE="0")  # every first call compiles
    rows = []
    for options in MANIPULATIONS:
        out = subprocess.run([sys.executable, "-c", ONE, run, json.dumps(options)], check=True, capture_output=True,
                             text=True, env=env)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"run": run, "load_average": os.getloadavg(), "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
