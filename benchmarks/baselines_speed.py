"""Throughput of Miconi's rule with each reward baseline, side by side with the commit before the
baselines existed (its only baseline: per trial type), in one run: DNMS trials/s of one network
(N = 200), from each run's metrics.csv between its second and last checkpoint (steady state,
compilation excluded), interleaved ``--repeats`` times (this machine is shared and noisy: compare
the ratios).

Run: ``python benchmarks/baselines_speed.py OLD_SRC NEW_SRC [--repeats 3]`` (each a ``src``
folder, e.g. a ``git worktree`` of the commit before). Writes benchmarks/results/baselines_speed.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from trainer_speed import measure

RESULTS = Path(__file__).resolve().parent / "results" / "baselines_speed.json"
TRAIN = ["train", "dnms", "--trials", "1500", "-q"]
CASES = {
    "before (per trial type)": ("old", []),
    "trial-type": ("new", ["--reward-baseline", "trial-type"]),
    "running": ("new", ["--reward-baseline", "running"]),
    "none": ("new", ["--reward-baseline", "none"]),
    "value (rates, time-resolved)": ("new", ["--reward-baseline", "value"]),
    "value (stimuli, read at 1000 ms)": ("new", ["--reward-baseline", "value", "--value-input", "stimuli",
                                                  "--value-readout", "1000"]),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("old_src")
    parser.add_argument("new_src")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    srcs = {"old": args.old_src, "new": args.new_src}
    samples: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(args.repeats):
        for name, (version, extra) in CASES.items():
            samples[name].append(measure(srcs[version], TRAIN + extra))
            print(f"{name}: {samples[name][-1]:.1f} trials/s", flush=True)
    before = statistics.median(samples["before (per trial type)"])
    result = {name: {"trials_per_s": [round(x, 1) for x in xs], "median": round(statistics.median(xs), 1),
                     "ratio_to_before": round(statistics.median(xs) / before, 3)} for name, xs in samples.items()}
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    for name, row in result.items():
        print(f"{name:<34} {row['median']:7.1f} trials/s  x{row['ratio_to_before']:.2f}")


if __name__ == "__main__":
    main()
