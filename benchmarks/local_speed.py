"""Throughput of the local rule beside the actor-critic (issue 36's target: within 2x), in one
run: rdm-fixed, one network (the paper's N = 100, 10 trials per update; Miconi's rate network,
N = 200, the same trials: 10 per update for the local rule, one for his), trials/s from each run's
metrics.csv between its second and last checkpoint (steady state, compilation excluded), each
case interleaved ``--repeats`` times (this machine is shared and noisy: compare the ratios).
Every case trains the same seed for the same updates; trials end at the network's decision, so
the steps computed per trial follow what each learner has learned (both decide within the first
few hundred updates).

Run: ``python benchmarks/local_speed.py [--repeats 2] [--updates 400]``. Writes
benchmarks/results/local_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from trainer_speed import measure

RESULTS = Path(__file__).resolve().parent / "results" / "local_speed.json"
#: The gated network's cases count updates (10 trials each); the rate network's count trials.
GATED = ["--max-updates", "{updates}", "--checkfreq", "50"]
RATE = ["--trials", "{trials}", "--checkfreq", "500"]
CASES = {
    "actor-critic (BPTT)": ["--learner", "actor-critic", *GATED],
    "local, e-prop, random feedback": ["--learner", "local", *GATED],
    "local, RFLO, random feedback": ["--learner", "local", "--rule", "rflo", *GATED],
    "local, e-prop, with --track-alignment": ["--learner", "local", "--track-alignment", *GATED],
    "local, rate network (N = 200), random feedback": ["--learner", "local", "--network", "rate", *RATE],
    "Miconi's rule, rate network (N = 200) acting": ["--learner", "perturbation", *RATE],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--updates", type=int, default=400)
    args = parser.parse_args()
    src = str(Path(__file__).resolve().parents[1] / "src")
    train = ["train", "rdm-fixed", "--patience", "0", "-q"]
    sizes = {"updates": args.updates, "trials": args.updates * 10}
    samples: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(args.repeats):
        for name, extra in CASES.items():
            samples[name].append(measure(src, train + [a.format(**sizes) for a in extra]))
            print(f"{name}: {samples[name][-1]:.1f} trials/s", flush=True)
    reference = statistics.median(samples["actor-critic (BPTT)"])
    result = {name: {"trials_per_s": [round(x, 1) for x in xs], "median": round(statistics.median(xs), 1),
                     "ratio_to_actor_critic": round(statistics.median(xs) / reference, 3)}
              for name, xs in samples.items()}
    result["setup"] = {"command": " ".join(train) + " + each case's flags (" + json.dumps(CASES) + ")",
                       "sizes": sizes, "date": time.strftime("%Y-%m-%d %H:%M"),
                       "machine": f"{os.cpu_count()}-core CPU, JAX {__import__('jax').__version__}"}
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    for name, row in result.items():
        if name != "setup":
            print(f"{name:<40} {row['median']:7.1f} trials/s  x{row['ratio_to_actor_critic']:.2f}")


if __name__ == "__main__":
    main()
