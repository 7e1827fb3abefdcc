"""Benchmark of every task of Song et al. 2017: training trials and wall seconds to each task's
stop criterion, one fresh `rewardrnn train` process per (task, seed).

Each finished run is appended to benchmarks/results/song_tasks.jsonl (so runs made at different
times accumulate) and the tables of docs/benchmarks-tasks.md (between its markers; the rest of
the page is kept) are rewritten from all of them. Wall seconds are the trainer's own
(summary.json: compilation and every validation included, interpreter start and imports, about
3 s, not). A run still short of its criterion after --timeout seconds is
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

from pages import replace_section

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "song_tasks.jsonl"
PAGE = ROOT / "docs" / "benchmarks-tasks.md"
BEGIN, END = "<!-- song_tasks.py: begin -->", "<!-- song_tasks.py: end -->"

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
    return "\n".join([BEGIN, *lines, "", END])


def write_page() -> None:
    """Replace the page's generated part (between the markers); the rest of the page (the notes,
    the remedies, seed_fractions.py's section) is written by hand or by other scripts and kept."""
    replace_section(PAGE, BEGIN, END, report())


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
    write_page()


if __name__ == "__main__":
    main()
