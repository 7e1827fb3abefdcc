"""The report of trained networks, read in headless Chromium (issue "After training": the figures
in the report of a trained rdm-rt, mante and PsychRNN-port run, checked at a 1,200-px window).

Each task is trained from seed 1 to its criterion with the command line a user types
(``rewardrnn train TASK -o DIR --seed 1 -q``), then ``rewardrnn analyze DIR`` and
``rewardrnn report DIR``; every command must exit 0. The report is then laid out by Chromium at
a 1,200 x 2,000-px window (``tests/chromium.py``, the suite's own check): a screenshot that is
not blank, and every figure shown at >= 0.7 of its own pixels (the PSTH panels >= 900 px wide).
Training to criterion takes minutes per task on a 2-core CPU, beyond the test suite's budget;
the suite runs the same check on briefly trained runs of the same tasks.

Run: ``python benchmarks/trained_reports.py [--tasks rdm-rt,mante,psychrnn] [--out runs/trained-reports]``.
Writes benchmarks/results/trained_reports.json and the screenshots
benchmarks/results/trained_reports/<task>.png.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "trained_reports.json"
SHOTS = ROOT / "benchmarks" / "results" / "trained_reports"
sys.path.insert(0, str(ROOT / "tests"))

#: name -> the task argument of ``rewardrnn train`` and its extra options.
TASKS = {
    "rdm-rt": ("rdm-rt", []),
    "mante": ("mante", []),
    "psychrnn": (str(ROOT / "examples" / "tasks" / "psychrnn_perceptual.py") + ":PERCEPTUAL", []),
}
#: Figures the issue names, by the end of their alt text (the report's alt is "seedS/<name>").
NAMED = ("chronometric", "psth_stimulus", "psth_choice", "fixedpoints_pca", "fixedpoints_spectra",
         "fixedpoints_selection", "learning curve", "psychometric")


def _command(*args: str) -> dict:
    started = time.perf_counter()
    done = subprocess.run([str(Path(sys.executable).parent / "rewardrnn"), *args], capture_output=True, text=True)
    return {"command": "rewardrnn " + " ".join(args), "rc": done.returncode,
            "wall_s": round(time.perf_counter() - started, 1),
            "stderr_tail": done.stderr.strip().splitlines()[-3:] if done.returncode else []}


def one(name: str, out: Path, max_updates: int) -> dict:
    import chromium

    task, extra = TASKS[name]
    run = out / name
    entry: dict = {"task": task, "steps": []}
    for args in (["train", task, "-o", str(run), "--seed", "1", "--max-updates", str(max_updates), "-q",
                  "--overwrite", *extra],
                 ["analyze", str(run)], ["report", str(run)]):
        entry["steps"].append(_command(*args))
        if entry["steps"][-1]["rc"]:
            return entry
    seed = json.loads((run / "summary.json").read_text())["seeds"][0]
    entry.update(status=seed["status"], trials_to_criterion=seed["trials_to_criterion"], updates=seed["updates"],
                 best_score=seed["best_score"])
    page = run / "report.html"
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        chromium.screenshot(page, run / "report.png")  # Chromium's profile stays in the run folder
        shutil.copyfile(run / "report.png", SHOTS / f"{name}.png")
        widths = chromium.check_readable(page)
        entry["readable"] = True
    except AssertionError as failure:
        entry["readable"], entry["failure"] = False, str(failure)
        widths = chromium.figure_widths(page)
    entry["figures"] = {alt: {"shown_px": round(shown), "own_px": own} for alt, (shown, own) in widths.items()}
    entry["named_figures_present"] = sorted({n for n in NAMED for alt in widths if alt.endswith(n)})
    return entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "trained-reports")
    parser.add_argument("--max-updates", type=int, default=6000, help="budget per task, updates")
    args = parser.parse_args()
    if shutil.which("chromium") is None and shutil.which("chromium-browser") is None:
        sys.exit("Chromium is not installed (apt-get install chromium)")
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    for name in args.tasks.split(","):
        results[name] = {"date": time.strftime("%Y-%m-%d"), **one(name, args.out, args.max_updates)}
        RESULTS.write_text(json.dumps(results, indent=1))
        print(name, json.dumps(results[name])[:600], flush=True)


if __name__ == "__main__":
    main()
