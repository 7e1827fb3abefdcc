"""Weights out: a trained run's parameters as ``.npz`` or ``.safetensors``, with names, masks, the
effective weights and a JSON description of the equations and units, readable by numpy (or
PyTorch's ``safetensors`` loader) without rewardrnn.

Array names: ``policy/<name>`` and ``value/<name>`` (actor-critic: the best parameters, as pyrl's
``best`` checkpoint), ``policy/mask/<name>`` for the fixed sparsity masks, and
``policy/effective/W_rec`` / ``policy/effective/W_rec_gates``: the weights the equations use
(masked, and sign-constrained under Dale's principle). Miconi runs: ``J`` and ``W_in`` (final).
The description is the ``__description__`` entry of the ``.npz`` (a string) or the
``description`` metadata of the ``.safetensors`` file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import numpy as np

from rewardrnn.errors import ConfigError

FORMATS = ("npz", "safetensors")
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


def export_run(run: str | Path, fmt: str = "npz", seed: int | None = None, out: str | Path | None = None) -> Path:
    """Write the weights of ``seed`` (default: the run's first) of the run folder ``run``; returns
    the written path (default ``RUN/export/weights_seed{S}.{fmt}``)."""
    from rewardrnn.training import run_folder
    from rewardrnn.training.config import TrainConfig

    if fmt not in FORMATS:
        raise ConfigError(f"export format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    run = Path(run)
    config = run_folder.read_config(run)
    if seed is None:
        seed = config.seeds[0]
    if seed not in config.seeds:
        raise ConfigError(f"seed {seed} was not trained in this run; its seeds are {config.seeds}")
    index = config.seeds.index(seed)
    if isinstance(config, TrainConfig):
        arrays, description = _actor_critic(run, config, index)
    else:
        arrays, description = _perturbation(run, config, index)
    description.update(format=FORMAT_TAG, seed=seed, arrays={k: list(v.shape) for k, v in arrays.items()})
    path = Path(out) if out is not None else run / "export" / f"weights_seed{seed}.{fmt}"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(description, indent=1)
    if fmt == "npz":
        np.savez(path, __description__=np.asarray(text), **arrays)
    else:
        from safetensors.numpy import save_file

        save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(path), metadata={"description": text})
    return path


def _actor_critic(run: Path, config, i: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    from rewardrnn.api import load_run
    from rewardrnn.networks import gru

    config, learner, state = load_run(run)
    pick = lambda tree: jax.tree_util.tree_map(lambda a: np.asarray(a[i], np.float32), tree)  # noqa: E731
    policy, value = pick(state.best_policy), pick(state.best_value)
    policy_masks, value_masks = pick(state.learner.policy_masks), pick(state.learner.value_masks)
    arrays = {f"policy/{k}": v for k, v in policy.items()}
    arrays.update({f"value/{k}": v for k, v in value.items()})
    arrays.update({f"policy/mask/{k}": v for k, v in policy_masks.items()})
    arrays.update({f"value/mask/{k}": v for k, v in value_masks.items()})
    for net, params, masks in (("policy", policy, policy_masks), ("value", value, value_masks)):
        if "W_rec" in params:
            w_rec, w_gates = gru.recurrent_weights(params, masks)
            arrays[f"{net}/effective/W_rec"] = np.asarray(w_rec)
            arrays[f"{net}/effective/W_rec_gates"] = np.asarray(w_gates)
    env, resolved = learner.env, config.resolved()
    description = {
        "learner": "actor-critic", "paper": "Song, Yang & Wang 2017, eLife 6:e21492",
        "task": config.task, "task_options": config.task_options,
        "inputs": list(env.protocol.inputs), "actions": list(env.protocol.actions),
        "dt_ms": env.dt_ms, "tau_ms": resolved.tau_ms, "alpha": learner.alpha,
        "policy_noise_std": learner.policy_noise, "value_noise_std": learner.value_noise,
        "value_network": resolved.baseline, "equations": GRU_EQUATIONS,
        "units": {"time": "ms", "rates": "arbitrary (max(0, x))"}, "config": resolved.to_dict(),
    }
    return arrays, description


def _perturbation(run: Path, config, i: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    from rewardrnn.training import checkpoint, run_folder
    from rewardrnn.training.perturbation_run import initial_states

    cfg = config.resolved()
    learner = cfg.build()
    states, _ = checkpoint.load(run / run_folder.CHECKPOINT, initial_states(cfg, learner))
    arrays = {k: np.asarray(v[i], np.float32) for k, v in states.params.items()}
    net = learner.network
    description = {
        "learner": "perturbation", "paper": "Miconi 2017, eLife 6:e20899", "task": cfg.task,
        "dt_ms": learner.config.dt_ms, "tau_ms": net.tau_ms, "network": net.kind,
        "output_unit": net.output_unit, "bias_units": list(net.bias_units), "bias_values": list(net.bias_values),
        "equations": RATE_EQUATIONS, "units": {"time": "ms"}, "config": cfg.to_dict(),
    }
    return arrays, description
