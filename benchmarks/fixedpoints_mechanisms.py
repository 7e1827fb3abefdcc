"""What trained networks do, read from their fixed and slow points (docs/analysis.md, "Fixed and
slow points"): Mante et al. 2013's selection-vector mechanism in a trained ``mante`` network, the
f1 memory of a ``romo`` network in its delay, and the delay memory of a Miconi ``dnms`` network.

Run: ``python benchmarks/fixedpoints_mechanisms.py --mante RUN --romo RUN --dnms RUN`` (trained
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


def _search(run: str, inputs: list[str], candidates: int) -> xr.Dataset:
    _, path = verbs.fixedpoints(run, inputs=inputs, candidates=candidates)
    return xr.load_dataset(path)


def _slowest(ds: xr.Dataset, mask: np.ndarray, quantile: float = 0.25) -> np.ndarray:
    """The slowest quarter of the points in ``mask`` (lowest q): the ones nearest a fixed point."""
    q = ds["q"].values
    return mask & (q <= np.quantile(q[mask], quantile))


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


def romo(run: str, candidates: int) -> dict:
    """Delay input (fixation cue only): the slowest points, the dimension of the set they form
    (share of variance of their rates on the first principal axis), and whether the recorded
    state at the end of the delay lies along that axis in the order of f1 (Spearman)."""
    ds = _search(run, ["delay"], candidates)
    mine = _slowest(ds, np.ones(ds.sizes["point"], bool))
    rates = ds["rates"].values[mine]
    centred = rates - rates.mean(0)
    _, sv, vt = np.linalg.svd(centred, full_matrices=False)
    axis = vt[0]
    record = xr.open_dataset(Path(run) / "records" / f"seed{RunFolder(run).seeds[0]}" / ACTIVITY)
    with record:
        end = record["f2_onset_ms"].values - record.attrs["dt_ms"]  # the last step of the delay
        index = np.searchsorted(record["time"].values, end)
        delay_rates = record["rates"].values[np.arange(record.sizes["trial"]), index]
        f1 = record["f1"].values
    along = (delay_rates - rates.mean(0)) @ axis
    ended = ~np.isfinite(along)  # trials that ended (aborted) before the end of their delay
    rho, p = stats.spearmanr(along[~ended], f1[~ended])
    lam = np.abs(fp.eigenvalues(ds)[mine, 0])
    return {"points": int(mine.sum()), "of": int(ds.sizes["point"]), "median_q": float(np.median(ds["q"].values[mine])),
            "variance_on_first_axis": float(sv[0] ** 2 / np.sum(sv ** 2)),
            "slowest_abs_lambda_median": float(np.median(lam)),
            "slowest_timescale_ms_median": float(np.median(ds["timescale_ms"].values[mine, 0])),
            "end_of_delay_along_axis_vs_f1_spearman": float(abs(rho)), "p": float(p),
            "trials": int((~ended).sum()),
            "stability": {k: int(v) for k, v in zip(*np.unique(ds["stability"].values[mine], return_counts=True))}}


def dnms(run: str, candidates: int) -> dict:
    """No input (the delays of DNMS): the converged points and their stability, and for the
    recorded trials which converged point lies nearest the state at the end of the first delay
    (399 ms), by the first stimulus (A: AA, AB; B: BA, BB)."""
    ds = _search(run, ["zero"], candidates)
    q = ds["q"].values
    fixed = q < fp.SLOW_Q
    points = ds["rates"].values[fixed]
    record = xr.open_dataset(Path(run) / "records" / f"seed{RunFolder(run).seeds[0]}" / ACTIVITY)
    with record:
        t = int(np.argmin(np.abs(record["time"].values - 399)))
        state = record["rates"].values[:, t]
        first = np.where(np.isin(record["trial_type"].values, ["AA", "AB"]), "A", "B")
    nearest = np.argmin(((state[:, None, :] - points[None]) ** 2).sum(-1), axis=1) if len(points) else np.array([])
    by_first = {k: {int(i): int((nearest[first == k] == i).sum()) for i in np.unique(nearest[first == k])}
                for k in ("A", "B")} if len(points) else {}
    return {"converged_points": int(fixed.sum()), "of": len(q),
            "stability": list(ds["stability"].values[fixed]),
            "slowest_abs_lambda": [float(x) for x in np.abs(fp.eigenvalues(ds)[fixed, 0])],
            "nearest_point_at_399ms_by_first_stimulus": by_first}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mante")
    parser.add_argument("--romo")
    parser.add_argument("--dnms")
    parser.add_argument("--candidates", type=int, default=2048)
    args = parser.parse_args()
    result = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}  # keep the entries not rerun
    for name, fn in (("mante", mante), ("romo", romo), ("dnms", dnms)):
        run = getattr(args, name)
        if run:
            result[name] = fn(run, args.candidates)
            print(name, json.dumps(result[name], indent=1), flush=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
