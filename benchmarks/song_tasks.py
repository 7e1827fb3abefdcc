"""Benchmark of every task of Song et al. 2017: training trials and wall seconds to each task's
stop criterion, one fresh `rewardrnn train` process per (task, seed).

Each finished run is appended to benchmarks/results/song_tasks.jsonl (so runs made at different
times accumulate) and docs/benchmarks-tasks.md is rewritten from all of them. Wall seconds are
the trainer's own (summary.json: compilation and every validation included, interpreter start
and imports, about 3 s, not). A run still short of its criterion after --timeout seconds is
interrupted (its checkpoint is kept) and reported as not reached, with its last validation.

    python benchmarks/song_tasks.py [--tasks mante romo ...] [--seeds 1 2 3] [--timeout 1200]
    python benchmarks/song_tasks.py --ingest mante=runs/mante-1     # record a finished run folder
    python benchmarks/song_tasks.py --report                        # rewrite the page only
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "song_tasks.jsonl"
PAGE = ROOT / "docs" / "benchmarks-tasks.md"

#: label -> extra CLI arguments (the task name is the label's first word).
RUNS = {
    "rdm-fixed": [],
    "rdm-rt": [],
    "wager": [],
    "mante": [],
    "multisensory": [],
    "romo": [],
    "economic": [],
    "economic --juice-ratio 4.1": ["--juice-ratio", "4.1"],
    "rdm-fixed --baseline linear": ["--baseline", "linear"],
    "rdm-fixed --dale": ["--dale"],
}

#: What the paper says about the time to criterion (paper-results.md §A1).
PAPER = {
    "rdm-fixed": "≈ 7,000 trials (text); pyrl 6,500 / 12,500 trials, 311 / ≈ 590 s on this machine",
    "rdm-fixed --baseline linear": "\"comparable (but slightly longer)\" than the gated value network (text)",
    "rdm-fixed --dale": "not in the paper (pyrl had no Dale's principle)",
}


def train(label: str, seed: int, timeout: float, runs: Path) -> dict:
    task, extra = label.split()[0], RUNS[label]
    out = runs / f"{label.replace(' ', '').replace('--', '-')}-s{seed}"
    cmd = [sys.executable, "-m", "rewardrnn.cli", "train", task, "--seed", str(seed), "--out", str(out),
           "--overwrite", "-q", *extra]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, env=dict(os.environ, REWARDRNN_COMPILATION_CACHE="0"))
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)  # the trainer stops at the next chunk, keeping its checkpoint
        proc.wait()
    return record(label, seed, out, time.perf_counter() - started)


def record(label: str, seed: int, out: Path, shell_wall: float | None = None) -> dict:
    summary_path = out / "summary.json"
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    last = rows[-1]
    if summary_path.is_file():
        summary = json.loads(summary_path.read_text())
        s = summary["seeds"][0]
        reached, trials, wall = s["reached_criterion"], s["trials_to_criterion"], summary["wall_s"]
    else:  # interrupted
        reached, trials, wall = False, None, float(last["wall_s"])
    result = {"label": label, "seed": seed, "reached": reached, "trials": trials if reached else int(last["trials"]),
              "wall_s": round(wall, 1), "shell_wall_s": None if shell_wall is None else round(shell_wall, 1),
              "last_p_decision": float(last["p_decision"]), "last_p_correct": float(last["p_correct"]),
              "date": time.strftime("%Y-%m-%d")}
    if "p_sure" in last:
        result["last_p_sure"] = float(last["p_sure"])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as f:
        f.write(json.dumps(result) + "\n")
    print(result, flush=True)
    return result


def report() -> str:
    from rewardrnn.tasks.registry import get_task

    results = [json.loads(line) for line in RESULTS.read_text().splitlines() if line.strip()]
    latest: dict[tuple[str, int], dict] = {}
    for r in results:  # the latest run of each (label, seed)
        latest[(r["label"], r["seed"])] = r
    lines = [
        "# Benchmarks: every task of Song et al. 2017",
        "",
        "Written by `python benchmarks/song_tasks.py` from `benchmarks/results/song_tasks.jsonl`.",
        "One `rewardrnn train TASK --seed S` per row, on the 2-core CPU of docs/benchmarks.md, paper",
        "defaults (dt = 10 ms, the task's N, learning rates and validation set, pyrl's t = 0 return).",
        "Wall seconds are the trainer's (compilation and validations included, about 3 s of",
        "interpreter start and imports not). Trials are training trials (validation trials excluded).",
        "",
        "| task | stop criterion | what the paper reports |",
        "|---|---|---|",
    ]
    labels = [label for label in RUNS if any(lab == label for lab, _ in latest)]
    for label in labels:
        task = get_task(label.split()[0], **({"juice_ratio": 4.1} if "juice-ratio" in label else {}))
        lines.append(f"| `{label}` | {task.criterion.describe().replace('|', '∣')} | "
                     f"{PAPER.get(label, 'a learning curve only (figure)')} |")
    lines += ["", "| task | seed | training trials to criterion | wall s | trials/s |", "|---|---|---|---|---|"]
    for label in labels:
        rows = sorted((r for (lab, _), r in latest.items() if lab == label), key=lambda r: r["seed"])
        for r in rows:
            if r["reached"]:
                trials = f"{r['trials']:,}"
            else:
                extra = f", P(sure) {r['last_p_sure']:.2f}" if "last_p_sure" in r else ""
                trials = (f"not reached after {r['trials']:,} (last: P(dec) {r['last_p_decision']:.3f}, "
                          f"P(corr) {r['last_p_correct']:.3f}{extra})")
            lines.append(f"| `{label}` | {r['seed']} | {trials} | {r['wall_s']:.0f} | {r['trials'] / r['wall_s']:.0f} |")
        reached = [r for r in rows if r["reached"]]
        if len(reached) > 1:
            lines.append(f"| `{label}` | **median of {len(reached)}** | "
                         f"**{statistics.median(r['trials'] for r in reached):,.0f}** | "
                         f"**{statistics.median(r['wall_s'] for r in reached):.0f}** | |")
    lines += ["", NOTES]
    return "\n".join(lines)


NOTES = """## What the trained networks do (seed 1, `rewardrnn evaluate RUN -n 100`, 2026-11-23)

Checked against the paper's findings (paper-results.md §A1):

- **wager** (2,400 trials): P(sure | wager trial) falls with coherence (0 %: 0.60, 3.2 %: 0.55,
  6.4 %: 0.56, 12.8 %: 0.42, 25.6 %: 0.26, 51.2 %: 0.06) and with stimulus duration (tertiles
  100-170 / 170-290 / 290-890 ms: 0.55 / 0.38 / 0.27); accuracy when the sure target was offered
  but waived exceeds accuracy when it was not offered (3.2 %: 0.67 vs 0.61, 6.4 %: 0.75 vs 0.65,
  12.8 %: 0.91 vs 0.76), as in Fig. 3.
- **multisensory** (2,400 trials; binomial ML cumulative-Gaussian fits): σ_visual = 2.12 ± 0.13,
  σ_auditory = 2.17 ± 0.13, σ_multisensory = 1.50 ± 0.09 events/s; 1/σ_va² = 0.444 against
  1/σ_v² + 1/σ_a² = 0.436 (ratio 1.02). Table 2 of the paper: σ 2.08-2.28 / 2.09-2.17 /
  1.45-1.58, ratio 0.90-1.06: optimal cue combination, reproduced.
- **mante** (7,200 trials): in the motion context P(right) follows motion coherence (-50 %: 0.00,
  -5 %: 0.45, +5 %: 0.74, +50 %: 1.00) and hardly colour (0.41-0.62); in the colour context the
  reverse (colour: 0.00 / 0.46 / 0.77 / 1.00; motion: 0.53-0.60), as in Fig. 2A.
- **romo** (1,000 trials): P(correct) 0.96-1.00 for each of the 10 (f1, f2) pairs (Fig. 2C).
- **economic** (A = 2.2 B, 900 trials): per offer (n_B:n_A), P(choose B) = 0 at 0:1, 1:1,
  1:2 and 1:3; 0.29 at 2:1; 1.00 at 3:1, 4:1, 6:1 and 2:0: the indifference point lies between
  2 and 3 B per A (the paper fits 2.0 for its network trained at 2.2).
- **economic --juice-ratio 4.1** did not reach P(correct) ≥ 0.95 in 139,500 trials (17 min; best
  validation 0.94, typically 0.85-0.90). The evaluation shows why: it chooses correctly at every
  offer but 4B:1A, where it takes the 4 B (0.40) over the 1 A (0.41) on 99.5 % of trials. That
  offer is worth 1/9 of the trials, so the network sits at ≈ 0.89; the reward difference that
  would teach it is 0.01, two orders below the others. Its indifference point, between 3 and
  4 B per A, matches the paper's fit for its 4.1 network (1A = 4.0B), which suggests the paper's
  run met the criterion through validation noise on that near-tie.

## Notes

- **romo: 2 of 5 seeds never reached the criterion.** Seed 3 reached P(correct) 0.71 with
  P(decision) 0.80 after 2,000 trials, then within 500 trials fell into never answering; seed 5
  never started answering at all. In both, every trial runs to the last step and earns -1, the
  value network predicts -1 everywhere, every advantage is 0 and the gradient vanishes (policy
  gradient norm ~1e-3), and only pyrl's t = 0 term remains, which rewards fixating. This is
  the absorbing state of docs/architecture.md (the paper's G_0 at initialisation), and romo is
  where it bites: fixation must be held for 4.5-5 s before a decision epoch of 0.5-1 s.
  A property of REINFORCE with R_TERMINAL = R_ABORTED = -1 as the paper sets it; not changed.
  Seeds 1, 2 and 4 took 3,500-4,000 trials.
- **wager, seed 3** sat in a local optimum for 25 minutes (112,800 trials): it takes the sure
  target on every wager trial (0.7, P(sure) = 1.00) and guesses on the others (P(correct) 0.53),
  so the evidence never pays enough to be learned; stopped at the 1,500-s limit of the
  benchmark. Seeds 1 and 2 learned both the discrimination and the wager (the behaviour below).

- The paper gives a number of trials to criterion only for rdm-fixed (≈ 7,000); its other learning
  curves exist only as figures (paper-results.md §A1), so there is nothing else to compare with.
- The stop criterion is checked on one noisy validation set every 50 updates (spec §4.7), so a
  run stops at the first validation that happens to cross it.
- The 2-core machine is shared and its speed varies by ±20-40 % between runs. These runs were
  made two at a time (one per core) and the seed-1 multisensory run beside the test suite, so
  their wall seconds are upper bounds for a quiet machine.
- Random streams changed with the task engine's event support (issue 3): rdm-rt seed 1 took
  5,400 trials under the earlier streams and 14,400 now; the spread across seeds is the point.
- Slower tasks are slower per trial because their trials are longer (romo: 556 steps; wager:
  396) and because a trial that has not yet learned to decide runs to its last step.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="*", default=list(RUNS), help="labels of RUNS")
    parser.add_argument("--seeds", nargs="*", type=int, default=[1])
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds per run")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "bench")
    parser.add_argument("--ingest", nargs="*", default=[], help="LABEL=RUN_FOLDER of finished runs (seed 1)")
    parser.add_argument("--report", action="store_true", help="only rewrite the page")
    args = parser.parse_args()
    unknown = [t for t in args.tasks if t not in RUNS]
    if unknown:
        parser.error(f"unknown labels {unknown}; known: {list(RUNS)}")
    for item in args.ingest:
        label, folder = item.split("=", 1)
        config = json.loads((Path(folder) / "config.json").read_text())
        record(label, config["seed"], Path(folder))
    if not args.report and not args.ingest:
        for label in args.tasks:
            for seed in args.seeds:
                train(label, seed, args.timeout, args.runs)
    PAGE.write_text(report())
    print(f"wrote {PAGE}")


if __name__ == "__main__":
    main()
