"""What trained networks do, read from their fixed and slow points (docs/analysis.md, "Fixed and
slow points"): the evidence integration of an ``rdm-fixed`` network (and its value network),
Mante et al. 2013's selection-vector mechanism in a trained ``mante`` network, the f1 memory of a
``romo`` network in its delay, and the delay memory of a Miconi ``dnms`` network.

Run: ``python benchmarks/fixedpoints_mechanisms.py --rdm-fixed RUN --mante RUN --romo RUN --dnms RUN`` (trained
and recorded run folders; ``rewardrnn train`` then ``rewardrnn record``). Writes
benchmarks/results/fixedpoints_mechanisms.json. Each search is ``rewardrnn fixedpoints`` with
the inputs named below, so ``RUN/analysis/seedS/fixedpoints.nc`` holds the points afterwards.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import xarray as xr
from scipy import stats

from rewardrnn import verbs
from rewardrnn.analysis import fixedpoints as fp
from rewardrnn.records import ACTIVITY
from rewardrnn.training.run_folder import RunFolder

RESULTS = Path(__file__).resolve().parent / "results" / "fixedpoints_mechanisms.json"
#: Zero evidence (coherence 0: both channels of a pair at (1 + 0) / 2) with one context cue on.
NEUTRAL = "MOTION-LEFT=0.5,MOTION-RIGHT=0.5,COLOR-LEFT=0.5,COLOR-RIGHT=0.5"
MANTE_INPUTS = {"motion": f"MOTION=1,{NEUTRAL}", "colour": f"COLOR=1,{NEUTRAL}"}


def mante(run: str, candidates: int) -> dict:
    """Per context, under zero evidence: the speed tiers, the network's (non-trivial) slowest
    modes, whether a line attractor appears (one mode within 0.01 of |lambda| = 1, none growing),
    and the selection vector of the slowest non-trivial mode on each evidence channel and on a
    pulse of motion evidence (MOTION-RIGHT up, MOTION-LEFT down) or of colour evidence, over the
    fixed and slow points (q < 1e-4). Mante et al. 2013: the same line attractor in both
    contexts, the selection vector picks the relevant input."""
    summary, path = verbs.fixedpoints(run, inputs=list(MANTE_INPUTS.values()), candidates=candidates)
    ds = xr.load_dataset(path)
    inputs = list(ds["input"].values)
    s = fp.selection(ds)[:, 0, :]  # the slowest non-trivial mode
    pulse = {m: np.zeros(len(inputs)) for m in ("motion", "colour")}
    pulse["motion"][inputs.index("MOTION-RIGHT")], pulse["motion"][inputs.index("MOTION-LEFT")] = 0.5, -0.5
    pulse["colour"][inputs.index("COLOR-RIGHT")], pulse["colour"][inputs.index("COLOR-LEFT")] = 0.5, -0.5
    slow = ds["q"].values < summary["tiers"]["slow_q"]
    out = {"wall_s": summary["wall_s"], "tiers": summary["tiers"]}
    for context, spec in MANTE_INPUTS.items():
        entry = dict(summary["conditions"][spec])
        mine = slow & (ds["condition"].values == spec)
        if mine.any():
            proj = {m: np.abs(s[mine] @ pulse[m]) for m in pulse}
            relevant, irrelevant = proj[context], proj["colour" if context == "motion" else "motion"]
            entry.update(pulse_selection_relevant_median=float(np.median(relevant)),
                         pulse_selection_irrelevant_median=float(np.median(irrelevant)),
                         fraction_relevant_larger=float(np.mean(relevant > irrelevant)),
                         median_q=float(np.median(ds["q"].values[mine])))
        out[context] = entry
    return out


def _line_of_points(ds: xr.Dataset, mine: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(mean, first principal axis, share of variance on it) of the rates of the points ``mine``."""
    rates = ds["rates"].values[mine]
    centre = rates.mean(0)
    _, sv, vt = np.linalg.svd(rates - centre, full_matrices=False)
    return centre, vt[0], float(sv[0] ** 2 / np.sum(sv ** 2)) if sv.size else float("nan")


def _recorded_at(run: str, column: str, offset_ms: float = 0.0) -> tuple[np.ndarray, xr.Dataset]:
    """Recorded rates at the step ``offset_ms`` after each trial's ``column`` time (NaN where the
    trial had ended), and the record (closed)."""
    record = xr.open_dataset(Path(run) / "records" / f"seed{RunFolder(run).seeds[0]}" / ACTIVITY)
    with record:
        at = record[column].values + offset_ms
        index = np.clip(np.searchsorted(record["time"].values, at), 0, record.sizes["time"] - 1)
        rates = record["rates"].values[np.arange(record.sizes["trial"]), index]
        record = record.drop_vars(["rates", "inputs", "value_rates", "value", "step_reward", "action_taken", "valid"],
                                  errors="ignore").load()
    return rates, record


def record_dt(run: str) -> float:
    return float(RunFolder(run).learner.env.dt_ms)


def _tiered(summary: dict, label: str) -> dict:
    keep = ("n_fixed", "n_slow", "n_other", "by_stability", "slowest_nontrivial_abs_eig", "slowest_nontrivial_abs_eig_max",
            "second_nontrivial_abs_eig", "slowest_nontrivial_timescale_ms", "n_trivial_modes", "n_modes_near_1",
            "line_attractor_fraction", "selection", "value_output")
    return {k: v for k, v in summary["conditions"][label].items() if k in keep}


def rdm_fixed(run: str, candidates: int) -> dict:
    """Zero-coherence stimulus (both evidence channels at 0.5, fixation on): the tiers, the
    slowest non-trivial modes, whether the slow points form a line (share of variance on their
    first axis), the selection of a pulse of evidence (RIGHT up, LEFT down), and whether the
    recorded state at the end of the stimulus lies along that line in the order of the signed
    coherence (Spearman). Then the value network's points in the same condition."""
    spec = "FIXATION=1,LEFT=0.5,RIGHT=0.5"
    summary, path = verbs.fixedpoints(run, inputs=[spec], candidates=candidates)
    ds = xr.load_dataset(path)
    slow = ds["q"].values < summary["tiers"]["slow_q"]
    out = {"tiers": summary["tiers"], "zero_coherence_stimulus": _tiered(summary, spec)}
    if slow.sum() > 2:
        centre, axis, share = _line_of_points(ds, slow)
        inputs = list(ds["input"].values)
        pulse = np.zeros(len(inputs))
        pulse[inputs.index("RIGHT")], pulse[inputs.index("LEFT")] = 0.5, -0.5
        s = fp.selection(ds)[:, 0, :]
        rates, record = _recorded_at(run, "decision_onset_ms", -record_dt(run))
        along = (rates - centre) @ axis
        signed = record["direction"].values * record["coherence"].values
        ok = np.isfinite(along)
        rho, p = stats.spearmanr(along[ok], signed[ok])
        out.update(slow_points_variance_on_first_axis=share,
                   pulse_selection_median=float(np.median(np.abs(s[slow] @ pulse))),
                   end_of_stimulus_along_axis_vs_signed_coherence_spearman=float(rho), p=float(p), trials=int(ok.sum()))
    value, _ = verbs.fixedpoints(run, inputs=[spec], candidates=candidates, network="value")
    out["value_network"] = {"zero_coherence_stimulus": _tiered(value, spec),
                            "distance_from_recorded": value["distance_from_recorded"],
                            "decision_network_points": value["decision_network"]["points"]}
    return out


def romo(run: str, candidates: int) -> dict:
    """Delay input (fixation cue only): the tiers and slowest non-trivial modes, the dimension of
    the set of slow points (share of variance of their rates on the first principal axis), and
    whether the recorded state at the end of the delay lies along that axis in the order of f1
    (Spearman): a line attractor holding f1 (Machens et al. 2005) or not."""
    summary, path = verbs.fixedpoints(run, inputs=["delay"], candidates=candidates)
    ds = xr.load_dataset(path)
    label = next(iter(summary["conditions"]))
    slow = ds["q"].values < summary["tiers"]["slow_q"]
    out = {"tiers": summary["tiers"], "delay": _tiered(summary, label)}
    if slow.sum() > 2:
        centre, axis, share = _line_of_points(ds, slow)
        rates, record = _recorded_at(run, "f2_onset_ms", -record_dt(run))  # the last step of the delay
        along = (rates - centre) @ axis
        ok = np.isfinite(along)
        rho, p = stats.spearmanr(along[ok], record["f1"].values[ok])
        out.update(slow_points_variance_on_first_axis=share,
                   end_of_delay_along_axis_vs_f1_spearman=float(rho), p=float(p), trials=int(ok.sum()))
    return out


def dnms(run: str, candidates: int) -> dict:
    """No input (the delays of DNMS): the tiers and the slowest modes of Miconi's tanh network
    (no silent units: no trivial modes), and for the recorded trials which fixed or slow point
    lies nearest the state at the end of the first delay (399 ms), by the first stimulus (A: AA,
    AB; B: BA, BB): one point per stimulus is a discrete memory."""
    summary, path = verbs.fixedpoints(run, inputs=["zero"], candidates=candidates)
    ds = xr.load_dataset(path)
    kept = ds["q"].values < summary["tiers"]["slow_q"]
    points = ds["rates"].values[kept]
    record = xr.open_dataset(Path(run) / "records" / f"seed{RunFolder(run).seeds[0]}" / ACTIVITY)
    with record:
        t = int(np.argmin(np.abs(record["time"].values - 399)))
        state = record["rates"].values[:, t]
        first = np.where(np.isin(record["trial_type"].values, ["AA", "AB"]), "A", "B")
    nearest = np.argmin(((state[:, None, :] - points[None]) ** 2).sum(-1), axis=1) if len(points) else np.array([])
    by_first = {k: {int(i): int((nearest[first == k] == i).sum()) for i in np.unique(nearest[first == k])}
                for k in ("A", "B")} if len(points) else {}
    return {"tiers": summary["tiers"], "zero": _tiered(summary, "zero"),
            "stability": [str(v) for v in ds["stability"].values[kept]],
            "slowest_abs_lambda": [round(float(x), 5) for x in np.abs(fp.eigenvalues(ds)[kept, 0])],
            "nearest_point_at_399ms_by_first_stimulus": by_first}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rdm-fixed", dest="rdm_fixed")
    parser.add_argument("--mante")
    parser.add_argument("--romo")
    parser.add_argument("--dnms")
    parser.add_argument("--candidates", type=int, default=2048)
    args = parser.parse_args()
    result = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}  # keep the entries not rerun
    for name, fn in (("rdm_fixed", rdm_fixed), ("mante", mante), ("romo", romo), ("dnms", dnms)):
        run = getattr(args, name)
        if run:
            result[name] = fn(run, args.candidates)
            print(name, json.dumps(result[name], indent=1), flush=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
