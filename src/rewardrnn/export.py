"""Weights out: a trained run's parameters as ``.npz`` or ``.safetensors``, with names, masks, the
effective weights and a JSON description of the equations and units, readable by numpy (or
PyTorch's ``safetensors`` loader) without rewardrnn.

Array names: ``policy/<name>`` and ``value/<name>`` (actor-critic: the best parameters, as pyrl's
``best`` checkpoint), ``policy/mask/<name>`` for the fixed sparsity masks, and
``policy/effective/W_rec`` / ``policy/effective/W_rec_gates``: the weights the equations use
(masked, and sign-constrained under Dale's principle). Miconi runs: ``J`` and ``W_in`` (best: at the
criterion, or of the lowest error of the last 100 trials).
The description is the ``__description__`` entry of the ``.npz`` (a string) or the
``description`` metadata of the ``.safetensors`` file. ``nwb``: the seed's records, weights and
description as a Neurodata Without Borders file (:mod:`rewardrnn.nwb`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from rewardrnn.errors import ConfigError, RunFolderError

FORMATS = ("npz", "safetensors", "nwb")
FORMAT_TAG = "rewardrnn-weights/1"

GRU_EQUATIONS = [
    "row-vector convention: W[i, j] is the weight from unit (or input) i to unit j",
    "r = max(0, x)",
    "[v_x, v_lam, v_gam] = u @ W_in + b_in   (columns: state | update gate | reset gate, N each)",
    "lam = sigmoid(r @ W_rec_gates[:, :N] + v_lam);  gam = sigmoid(r @ W_rec_gates[:, N:] + v_gam)",
    "x' = (1 - alpha * lam) * x + alpha * lam * ((gam * r) @ W_rec + v_x + q),  q ~ N(0, noise_std^2)",
    "use the effective/ weights (masked, sign-constrained) for W_rec and W_rec_gates",
    "policy: softmax(max(0, x) @ W_out + b_out) over the actions; value: max(0, x) @ W_out + b_out",
    "x at the first step = x0; value-network input at step k = [policy rates r_(k-1), one-hot action a_(k-1)]",
]
RATE_EQUATIONS = [
    "column convention: J[i, j] is the weight from neuron j onto neuron i",
    "r = tanh(x) (E/I network: clip(x + 2, 0, 20))",
    "x' = x + (dt / tau) * (J @ r + W_in @ u + kick - x); bias neurons clamped after each step",
    "output = r[output_unit]",
]


def export_run(run: str | Path, fmt: str = "npz", seed: int | None = None, out: str | Path | None = None,
               nwb_metadata=None) -> Path:
    """Write the weights of ``seed`` (default: the run's first) of the run folder ``run``; returns
    the written path (default ``RUN/export/weights_seed{S}.{fmt}``, ``RUN/export/seed{S}.nwb``). ``out`` must end in
    ``.{fmt}`` and may not name a file of the run itself. ``nwb_metadata``: the subject and session
    metadata of an NWB file (:class:`rewardrnn.nwb.Metadata`: species, experimenter, institution, lab)."""
    from rewardrnn.training import run_folder
    from rewardrnn.training.run_folder import RunFolder

    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    if nwb_metadata is not None and fmt != "nwb":
        raise ConfigError(f"subject and session metadata (--species, --experimenter, --institution, --lab, --metadata) "
                          f"go in an NWB file; --format is {fmt}")
    folder = RunFolder(run)
    i, seed = folder.seed_index(seed)
    default = f"seed{seed}.nwb" if fmt == "nwb" else f"weights_seed{seed}.{fmt}"
    path = Path(out) if out is not None else folder.derived_path("export", default)
    if path.suffix != f".{fmt}":
        raise ConfigError(f"--out {path} must end in .{fmt} (the format written)")
    if path.resolve().parent == folder.path.resolve() and path.name in run_folder.RUN_FILES:
        raise RunFolderError(f"--out {path} would replace the run's own {path.name}; choose another file")
    if folder.kind.network == "gated":  # Song et al.'s gated network
        arrays, description = _actor_critic(folder, seed)
    else:
        arrays, description = _perturbation(folder, seed)
    description.update(format=FORMAT_TAG, seed=seed, run_id=folder.identity["run_id"],
                       arrays={k: list(v.shape) for k, v in arrays.items()})
    if out is None:
        folder.derived_folder("export")
    else:
        run_folder.check_writable_folder(path.parent, "--out folder")
    text = json.dumps(description, indent=1)
    if fmt == "nwb":
        _write_nwb(folder, seed, description, arrays, path, nwb_metadata)
    elif fmt == "npz":
        run_folder.atomic_write_bytes(path, lambda f: np.savez(f, __description__=np.asarray(text), **arrays))
    else:
        from safetensors.numpy import save

        data = save({k: np.ascontiguousarray(v) for k, v in arrays.items()}, metadata={"description": text})
        run_folder.atomic_write_bytes(path, lambda f: f.write(data))
    return path


def _write_nwb(folder, seed: int, description: dict, arrays: dict, path: Path, metadata=None) -> None:
    """The NWB file of ``seed``, from its records (made first when missing or stale)."""
    from rewardrnn import nwb, verbs
    from rewardrnn.records import ACTIVITY
    from rewardrnn import safe_files
    from rewardrnn.records.activity import open_activity
    from rewardrnn.training import run_folder

    with run_folder.locked(folder.path):
        if not verbs.current_records(folder, seed):
            verbs.record(folder.path, seed=seed)
        ds = open_activity(safe_files.inside(verbs.records_dir(folder.path, seed), ACTIVITY))
        try:
            nwb.write(folder, seed, ds, description, arrays, path, metadata)
        finally:
            ds.close()


def _actor_critic(folder, seed: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    from rewardrnn.networks import gru

    best = folder.best_params(seed)
    state = folder.learner_state(seed)
    as32 = lambda tree: {k: np.asarray(v, np.float32) for k, v in tree.items()}  # noqa: E731
    policy, value = as32(best["policy"]), as32(best["value"])
    policy_masks, value_masks = as32(state.policy_masks), as32(state.value_masks)
    arrays = {f"policy/{k}": v for k, v in policy.items()}
    arrays.update({f"value/{k}": v for k, v in value.items()})
    arrays.update({f"policy/mask/{k}": v for k, v in policy_masks.items()})
    arrays.update({f"value/mask/{k}": v for k, v in value_masks.items()})
    for net, params, masks in (("policy", policy, policy_masks), ("value", value, value_masks)):
        if "W_rec" in params:
            w_rec, w_gates = gru.recurrent_weights(params, masks)
            arrays[f"{net}/effective/W_rec"] = np.asarray(w_rec)
            arrays[f"{net}/effective/W_rec_gates"] = np.asarray(w_gates)
    learner, resolved = folder.learner, folder.resolved
    core = getattr(learner, "core", learner)  # the actor-critic itself (NeuroGym: inside the host adapter)
    protocol = getattr(learner.env, "protocol", None)
    description = {
        "learner": "actor-critic", "paper": "Song, Yang & Wang 2017, eLife 6:e21492",
        "task": folder.task, "task_options": getattr(resolved, "task_options", {}),
        "inputs": list(protocol.inputs) if protocol else learner.env.n_inputs,
        "actions": list(protocol.actions) if protocol else learner.env.n_actions,
        "dt_ms": learner.env.dt_ms, "tau_ms": core.policy_config.tau_ms, "alpha": core.alpha,
        "policy_noise_std": core.policy_noise, "value_noise_std": core.value_noise,
        "value_network": getattr(resolved, "baseline", "gru"), "equations": GRU_EQUATIONS,
        "units": {"time": "ms", "rates": "arbitrary (max(0, x))"}, "config": resolved.to_dict(),
    }
    return arrays, description


def _perturbation(folder, seed: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    arrays = {k: np.asarray(v, np.float32) for k, v in folder.best_params(seed).items()}
    learner, cfg = folder.learner, folder.resolved
    net = learner.network
    description = {
        "learner": "perturbation", "paper": "Miconi 2017, eLife 6:e20899", "task": cfg.task,
        "dt_ms": learner.config.dt_ms, "tau_ms": net.tau_ms, "network": net.kind,
        "output_unit": net.output_unit, "bias_units": list(net.bias_units), "bias_values": list(net.bias_values),
        "equations": RATE_EQUATIONS, "units": {"time": "ms"}, "config": cfg.to_dict(),
    }
    return arrays, description
