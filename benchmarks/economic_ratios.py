"""The economic task at several juice ratios, several seeds each (issue 16): does each seed reach
its criterion within 2x today's trials, and is its fitted indifference point within 10 % of the
ratio it was trained with?

Per ratio, one `rewardrnn train economic --juice-ratio R --seeds 3 --max-updates U` (the task's
defaults: the paper's offers and criterion at 2.2 and 4.1, offers built from the ratio with every
offer checked elsewhere), U giving a budget of BUDGET_TRIALS training trials per seed (4x the
14,400 trials that seed 1 took at 2.2 with the paper's offers, docs/benchmarks-tasks.md). Then
`rewardrnn.evaluate(RUN, 100, seed=s)` (what `rewardrnn evaluate RUN --seed s -n 100` does) for
every seed (its best network) and the indifference
point fitted to those trials (`rewardrnn.analysis.behaviour.indifference_point`, what `analyze`
reports and flags). A seed that did not reach its criterion is fitted too: that is what a user
who stopped at the budget would get.

    python benchmarks/economic_ratios.py [--ratios 2.2 1.5 3.0 4.1] [--runs runs/economic-ratios]
    python benchmarks/economic_ratios.py --report     # rewrite the section of the page only

A ratio whose run folder already holds a finished run is only evaluated and recorded again.
Results: benchmarks/results/economic_ratios.json; the table goes between the markers of
docs/benchmarks-tasks.md.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import rewardrnn
from pages import replace_section
from rewardrnn.analysis.behaviour import indifference_point
from rewardrnn.tasks.economic import PAPER_RATIOS, economic_choice

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "economic_ratios.json"
PAGE = ROOT / "docs" / "benchmarks-tasks.md"
BEGIN, END = "<!-- economic_ratios.py: begin -->", "<!-- economic_ratios.py: end -->"
RATIOS = (2.2, 1.5, 3.0, 4.1)
N_SEEDS = 3
#: Today's trials to criterion at 2.2 (seed 1, the paper's offers), and the budget per seed (4x).
TODAY_TRIALS = 14_400
BUDGET_TRIALS = 4 * TODAY_TRIALS
#: Largest relative distance of the fitted indifference point from the ratio (the issue's target).
TOLERANCE = 0.10


#: Remedies measured against the near-tie collapse (named options of `train`, beyond the paper).
REMEDIES = {"entropy-bonus-0.001": ["--entropy-bonus", "0.001"]}


def key_of(ratio: float, remedy: str | None) -> str:
    """The results' key of a ratio trained with the defaults or with a remedy (and its run folder)."""
    return f"{ratio:g}" if remedy is None else f"{ratio:g} {remedy}"


def run_ratio(ratio: float, runs: Path, remedy: str | None = None) -> dict:
    """Train (unless finished already), evaluate and fit every seed of one ratio, with the task's
    defaults or with one of :data:`REMEDIES`."""
    out = runs / key_of(ratio, remedy).replace(" ", "-")
    trials_per_update = economic_choice(ratio).n_conditions  # one trial per condition per update
    # The trainer rounds --max-updates up to its validation period; 3,200 and 3,600 need no rounding.
    updates = math.ceil(BUDGET_TRIALS / trials_per_update)
    if not (out / "summary.json").is_file():
        subprocess.run([sys.executable, "-m", "rewardrnn.cli", "train", "economic", "--juice-ratio", f"{ratio:g}",
                        "--seeds", str(N_SEEDS), "--max-updates", str(updates), "--out", str(out), "--overwrite", "-q",
                        *REMEDIES.get(remedy, [])],
                       check=True, stdout=subprocess.DEVNULL)
    summary = json.loads((out / "summary.json").read_text())
    seeds = []
    for s in summary["seeds"]:
        table = rewardrnn.evaluate(out, trials_per_condition=100, seed=s["seed"])
        decided = table.loc[table["decision"]]
        try:
            fitted = indifference_point(table)["indifference_b_per_a"]
        except ValueError:  # too few offers chosen on to fit (a network that never chooses)
            fitted = None
        seeds.append({"seed": s["seed"], "reached": s["reached_criterion"], "status": s["status"],
                      "trials": s["trials_to_criterion"],
                      "indifference_b_per_a": None if fitted is None else round(float(fitted), 3),
                      "off": None if fitted is None else round(float(fitted / ratio - 1), 3),
                      "p_correct": round(float(decided["correct"].mean()), 3) if len(decided) else None})
    offers = "the paper's" if ratio in PAPER_RATIOS else "from the ratio"  # the task's default
    return {"ratio": ratio, "offers": offers, "remedy": remedy, "date": time.strftime("%Y-%m-%d"), "budget_trials": updates * trials_per_update,
            "wall_s": round(summary["wall_s"], 1), "seeds": seeds}


def report() -> str:
    results = json.loads(RESULTS.read_text())
    lines = [BEGIN, "", "### The economic task at four ratios, three seeds each", "",
             "Written by `python benchmarks/economic_ratios.py` from `benchmarks/results/economic_ratios.json`.",
             "`rewardrnn train economic --juice-ratio R --seeds 3` with the task's defaults and a budget of",
             f"{BUDGET_TRIALS:,} training trials per seed (4× the {TODAY_TRIALS:,} of 2.2), then `evaluate -n 100` of each",
             "seed's best network and the fitted indifference point (what `analyze` reports). Target: within",
             f"±{TOLERANCE * 100:.0f} % of the ratio in at most 2× today's trials ({2 * TODAY_TRIALS:,}). Rows with a",
             "remedy were trained with that option added (beyond the paper; `--remedy NAME`).", "",
             "| ratio | offers | remedy | seed | trials to criterion | fitted 1 A = … B | off the ratio | P(correct) | "
             "within ±10 % in ≤ 2× trials |", "|---|---|---|---|---|---|---|---|---|"]
    for key in sorted(results, key=lambda k: (float(k.split()[0]), k)):
        r = results[key]
        remedy = f"`{' '.join(REMEDIES[r['remedy']])}`" if r.get("remedy") else "defaults"
        for s in r["seeds"]:
            trials = f"{s['trials']:,}" if s["reached"] else f"not reached ({s['status']})"
            if s["off"] is None:  # never chose
                lines.append(f"| {r['ratio']:.1f} | {r['offers']} | {remedy} | {s['seed']} | {trials} | – | – | – | no |")
                continue
            ok = s["reached"] and s["trials"] <= 2 * TODAY_TRIALS and abs(s["off"]) <= TOLERANCE
            off = f"{s['off'] * 100:+.1f} %".replace("-", "−")
            lines.append(f"| {r['ratio']:.1f} | {r['offers']} | {remedy} | {s['seed']} | {trials} | {s['indifference_b_per_a']:.2f} | "
                         f"{off} | {s['p_correct']:.3f} | {'yes' if ok else 'no'} |")
        met = [s["trials"] for s in r["seeds"] if s["reached"]]
        median = f"median {int(np.median(met)):,}" if met else "–"
        lines.append(f"| {r['ratio']:.1f} | | {remedy} | **{len(met)} / {len(r['seeds'])} reached** | {median} | | | | "
                     f"({r['wall_s']:,.0f} s for the {len(r['seeds'])} seeds) |")
    lines += ["", END]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratios", nargs="*", type=float, default=list(RATIOS))
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "economic-ratios")
    parser.add_argument("--remedy", choices=sorted(REMEDIES), help="train with this remedy instead of the defaults")
    parser.add_argument("--report", action="store_true", help="only rewrite the page's section")
    args = parser.parse_args()
    if not args.report:
        for ratio in args.ratios:
            result = run_ratio(ratio, args.runs, args.remedy)
            results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
            results[key_of(ratio, args.remedy)] = result
            RESULTS.write_text(json.dumps(results, indent=1) + "\n")
            print(json.dumps({k: v for k, v in result.items() if k != "seeds"}), flush=True)
            replace_section(PAGE, BEGIN, END, report())
    replace_section(PAGE, BEGIN, END, report())


if __name__ == "__main__":
    main()
