"""Our fixed-point search side by side with fixed-point-finder's PyTorch version (Golub &
Sussillo 2018, github.com/mattgolub/fixed-point-finder) on the same trained rdm-fixed network
(N = 100), the same 4,096 candidates under the same 11 constant inputs and the same tolerance
(tol_q = 1e-12, both libraries' default), each in a fresh process (times include compilation /
start-up), one after the other on this machine.

fixed-point-finder is never imported by the project: it runs from a scratch copy given by
``--fpf`` (e.g. ``git clone`` of the repository outside this one), with PyTorch (the local CPU
wheel). Its network is our gated unit written as a ``torch.nn.Module`` with our trained weights.

Run: ``python benchmarks/fixedpoints_vs_fpf.py --fpf /path/to/fixed-point-finder [--run RUN]``
(without ``--run`` it trains rdm-fixed seed 2 and records it first). Writes
benchmarks/results/fixedpoints_vs_fpf.json and docs/figures/fixedpoints_vs_fpf.png.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from fixedpoints_speed import recorded_rdm_fixed

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "fixedpoints_vs_fpf.json"
FIGURE = HERE.parent / "docs" / "figures" / "fixedpoints_vs_fpf.png"

#: Ours: the candidates and inputs of `rewardrnn fixedpoints` (seeded), saved for the peer, and
#: our search on them, timed from process start.
OURS = """
import json, sys, time
t0 = time.perf_counter()
import numpy as np
from rewardrnn import keys, verbs
from rewardrnn.records import ACTIVITY
from rewardrnn.analysis import fixedpoint_inputs as fpi, fixedpoints as fp
from rewardrnn.networks import gru
from rewardrnn.records.activity import open_activity
from rewardrnn.training.run_folder import RunFolder
run, n, scratch = sys.argv[1], int(sys.argv[2]), sys.argv[3]
folder = RunFolder(run)
seed = folder.seeds[0]
with open_activity(verbs.records_dir(folder.path, seed) / ACTIVITY) as ds:
    channels = [str(c) for c in ds["input"].values]
    rates, recorded_inputs, _ = fpi.recorded_steps(ds, keys.FIXED_POINT_SEED)
ad = verbs.adapter(folder)
conditions = fpi.resolve(fpi.default_specs(ad.protocol(folder)), channels, ad.protocol(folder), recorded_inputs)
dynamics = ad.dynamics(folder, seed, channels)
states, u, condition = fpi.candidates(rates, recorded_inputs, conditions, n, dynamics.states_from_rates, 0.0,
                                      keys.FIXED_POINT_SEED)
params, masks = folder.best_params(seed)["policy"], folder.learner_state(seed).policy_masks
w_rec, w_lam, w_gam = (np.asarray(w) for w in gru._split_gates(params, masks))
alpha = dynamics.dt_ms / 100.0
np.savez(scratch, states=states, inputs=u, condition=condition, W_in=np.asarray(params["W_in"]),
         b_in=np.asarray(params["b_in"]), W_rec=w_rec, W_lam=w_lam, W_gam=w_gam, alpha=alpha)
t1 = time.perf_counter()
found = fp.find(dynamics, states, u, condition, conditions.labels)
t2 = time.perf_counter()
q = found["q"].values
print(json.dumps({"setup_s": round(t1 - t0, 2), "search_s": round(t2 - t1, 2), "wall_s": round(t2 - t0, 2),
                  "points": int(len(q)), "q": q.tolist(), "n_conditions": len(conditions.labels),
                  "stages_s": json.loads(found.attrs["stage_s"])}))
"""

#: The peer: fixed-point-finder's FixedPointFinderTorch with its defaults (joint Adam, lr 1.0
#: with ReduceLROnPlateau, tol_q 1e-12, up to 5,000 iterations, de-duplication, distance
#: outliers, Jacobians and their eigen-decomposition), on the same network and candidates.
PEER = """
import json, sys, time
t0 = time.perf_counter()
import numpy as np, torch
from FixedPointFinderTorch import FixedPointFinderTorch
d = np.load(sys.argv[1])
W = {k: torch.from_numpy(np.asarray(d[k], np.float32)) for k in ("W_in", "b_in", "W_rec", "W_lam", "W_gam")}
alpha = float(d["alpha"]); n = W["W_rec"].shape[0]

class Gated(torch.nn.Module):
    # Song et al.'s gated unit (rewardrnn.networks.gru), noise off, in fixed-point-finder's RNN interface.
    batch_first = True
    def __init__(self):
        super().__init__()
        self.w = torch.nn.ParameterDict({k: torch.nn.Parameter(v, requires_grad=False) for k, v in W.items()})
    def forward(self, u_bx1xd, h_1xbxd):
        x, u = h_1xbxd[0], u_bx1xd[:, 0]
        r = torch.relu(x)
        drive = u @ self.w["W_in"] + self.w["b_in"]
        lam = torch.sigmoid(r @ self.w["W_lam"] + drive[:, n:2 * n])
        gam = torch.sigmoid(r @ self.w["W_gam"] + drive[:, 2 * n:])
        x_next = x + alpha * lam * ((gam * r) @ self.w["W_rec"] + drive[:, :n] - x)
        return x_next[:, None], x_next[None]

finder = FixedPointFinderTorch(Gated(), verbose=False)
t1 = time.perf_counter()
unique, all_fps = finder.find_fixed_points(np.asarray(d["states"], np.float32), np.asarray(d["inputs"], np.float32))
t2 = time.perf_counter()
print(json.dumps({"setup_s": round(t1 - t0, 2), "search_s": round(t2 - t1, 2), "wall_s": round(t2 - t0, 2),
                  "points": int(unique.n), "q": np.asarray(unique.qstar, float).tolist(),
                  "iterations": int(np.max(all_fps.n_iters)), "torch_threads": torch.get_num_threads()}))
"""


def _run(code: str, args: list[str], pythonpath: str | None = None) -> dict:
    import os
    env = dict(os.environ, **({"PYTHONPATH": pythonpath} if pythonpath else {}), REWARDRNN_COMPILATION_CACHE="0")
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _quantiles(q: list[float]) -> dict:
    import numpy as np
    q = np.asarray(q)
    return {"median_q": float(np.median(q)), "q90": float(np.quantile(q, 0.9)),
            "below_1e-8": float(np.mean(q < 1e-8)), "below_1e-4": float(np.mean(q < 1e-4))}


def _figure(ours: dict, peer: dict) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4))
    a.bar(["rewardrnn", "fixed-point-finder\n(PyTorch)"], [ours["wall_s"], peer["wall_s"]], color=["C0", "C1"])
    a.set(ylabel="wall seconds (process start to result)", title="4,096 candidates, 11 inputs, N = 100")
    for name, row, colour in (("rewardrnn", ours, "C0"), ("fixed-point-finder", peer, "C1")):
        q = np.sort(np.maximum(np.asarray(row["q"]), 1e-30))
        b.plot(q, np.arange(1, len(q) + 1) / len(q), label=f"{name} ({len(q)} points)", color=colour)
    b.set(xscale="log", xlabel="q at the points returned", ylabel="fraction of points", title="speed q = ½‖F(x) − x‖²")
    b.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    FIGURE.parent.mkdir(exist_ok=True)
    fig.savefig(FIGURE, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fpf", required=True, help="scratch copy of fixed-point-finder (outside this repository)")
    parser.add_argument("--run")
    parser.add_argument("--candidates", type=int, default=4096)
    args = parser.parse_args()
    run = recorded_rdm_fixed(args.run)
    scratch = str(Path(tempfile.mkdtemp()) / "problem.npz")
    ours = _run(OURS, [run, str(args.candidates), scratch])
    peer = _run(PEER, [scratch], pythonpath=str(Path(args.fpf).resolve()))
    result = {"run": run, "candidates": args.candidates,
              "ours": {k: v for k, v in ours.items() if k != "q"} | _quantiles(ours["q"]),
              "fixed_point_finder": {k: v for k, v in peer.items() if k != "q"} | _quantiles(peer["q"]),
              "speedup_wall": round(peer["wall_s"] / ours["wall_s"], 2),
              "speedup_search": round(peer["search_s"] / ours["search_s"], 2)}
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    _figure(ours, peer)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
