"""What the fixed-point search starts from: the input conditions and the candidate states.

Input conditions (``--inputs``), each a constant input vector with a label, or ``trajectory``:

* ``epochs`` (default for the tasks of Song et al.): every epoch of the task's protocol under
  every condition of its grid, noise-free (the protocol's ``mean_inputs``), identical vectors
  merged; labelled by the epoch and the condition variables that the vector depends on
  (rdm-fixed: ``fixation``, nine ``stimulus`` vectors, ``decision``: 11 conditions);
* an epoch name (e.g. ``stimulus``): that epoch's vectors only;
* ``recorded`` (default for Miconi's tasks and NeuroGym): the distinct input vectors of the
  records when there are at most 16; otherwise the channels that take at most 4 values in the
  records (cues) at each of their recorded combinations, the other channels (noisy evidence) at 0;
* ``zero``: every channel at 0;
* ``CHANNEL=value[,CHANNEL=value...]``: the given channels, the others 0 (e.g. ``FIXATION=1``);
* ``trajectory``: each candidate keeps the input recorded with its state.

Candidates are states visited in the records: steps drawn uniformly (seeded) among the valid
steps of at most 256 recorded trials, mapped from rates back to states by the network's inverse (the gated unit's
silent units start at 0; tanh units at artanh r), plus optional Gaussian noise (state units).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
import xarray as xr

from rewardrnn import resources
from rewardrnn.errors import ConfigError
from rewardrnn.tasks.protocol import Protocol

#: Most distinct recorded input vectors used as conditions as they are (``recorded``).
MAX_RECORDED = 16
#: Most recorded trials read to draw candidates from (and to take the PCA plane of).
MAX_TRIALS = 256
#: A channel with at most this many recorded values is a cue (``recorded``).
MAX_CUE_VALUES = 4


@dataclass(frozen=True)
class InputConditions:
    """Labels and constant input vectors (C, n_in); ``trajectory`` is the index of the
    condition whose inputs are the recorded ones (None when not asked for)."""

    labels: list[str]
    values: np.ndarray
    trajectory: int | None = None


def protocol_conditions(protocol: Protocol, epochs: tuple[str, ...] | None = None) -> list[tuple[str, np.ndarray]]:
    """Noise-free input vectors of ``epochs`` (default: all) under every condition of the grid;
    event flags (e.g. the sure target) both off and on in the epochs after the event's epoch."""
    names = [e.name for e in protocol.epochs]
    grid = list(itertools.product(*protocol.conditions.values()))
    out: list[tuple[str, np.ndarray]] = []
    for epoch in epochs or names:
        variants = [()]
        for event in protocol.events:
            if names.index(epoch) > names.index(event.after):
                variants = [v + (name,) for v in variants for name in ((), (event.name,))]
        for events_on in variants:
            flags = {n: np.asarray(n == epoch) for n in names}
            flags.update({e.name: np.asarray(e.name in events_on) for e in protocol.events})
            vectors = [_mean_input(protocol, dict(zip(protocol.conditions, combo)), flags) for combo in grid]
            out.extend(_merge(epoch + "".join(f" +{e}" for e in events_on), list(protocol.conditions), grid, vectors))
    return _unique(out)


def _mean_input(protocol: Protocol, values: dict, flags: dict) -> np.ndarray:
    variables = {k: jnp.asarray(v, jnp.float32) for k, v in values.items()}
    if protocol.derived_variables is not None:
        variables.update(protocol.derived_variables(variables))
    channels = protocol.mean_inputs(variables, {k: jnp.asarray(v) for k, v in flags.items()})
    return np.asarray([float(np.asarray(channels.get(c, 0.0))) for c in protocol.inputs], np.float32)


def _merge(prefix: str, variables: list[str], grid: list[tuple], vectors: list[np.ndarray]):
    """Group the grid by identical input vector; label each group by the variables constant in it."""
    groups: dict[bytes, list[int]] = {}
    for i, v in enumerate(vectors):
        groups.setdefault(np.round(v, 6).tobytes(), []).append(i)
    out = []
    for members in groups.values():
        fixed = [f"{name}={grid[members[0]][j]:g}" for j, name in enumerate(variables)
                 if len({grid[m][j] for m in members}) == 1]
        out.append((" ".join([prefix] + fixed), vectors[members[0]]))
    return out


def _unique(conditions: list[tuple[str, np.ndarray]]) -> list[tuple[str, np.ndarray]]:
    seen, out = set(), []
    for label, v in conditions:
        key = np.round(v, 6).tobytes()
        if key not in seen:
            seen.add(key)
            out.append((label, v))
    return out


def recorded_conditions(inputs: np.ndarray, channels: list[str]) -> list[tuple[str, np.ndarray]]:
    """The ``recorded`` conditions (module docstring) from recorded inputs (steps, n_in)."""
    rows = np.unique(np.round(inputs, 6), axis=0)
    if len(rows) > MAX_RECORDED:
        cues = [j for j in range(inputs.shape[1]) if len(np.unique(np.round(inputs[:, j], 6))) <= MAX_CUE_VALUES]
        kept = np.zeros_like(rows)
        kept[:, cues] = rows[:, cues]
        rows = np.unique(kept, axis=0)
    return [(_label(r, channels), r.astype(np.float32)) for r in rows]


def _label(vector: np.ndarray, channels: list[str]) -> str:
    parts = [f"{c}={v:g}" for c, v in zip(channels, vector) if v != 0]
    return ",".join(parts) if parts else "zero"


def parse_channels(text: str, channels: list[str]) -> np.ndarray:
    """``CHANNEL=value[,CHANNEL=value...]`` as a vector (unnamed channels 0)."""
    vector = np.zeros(len(channels), np.float32)
    for part in text.split(","):
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in channels:
            raise ConfigError(f"unknown input channel {name!r} in --inputs {text!r}; channels: {', '.join(channels)}")
        try:
            vector[channels.index(name)] = float(value)
        except ValueError:
            raise ConfigError(f"input value {value!r} of channel {name!r} is not a number") from None
    return vector


def resolve(specs: list[str], channels: list[str], protocol: Protocol | None,
            recorded_inputs: np.ndarray) -> InputConditions:
    """The conditions named by ``specs`` (module docstring) for a network with input
    ``channels``; ``protocol`` is None for tasks that have none (Miconi's, NeuroGym)."""
    epochs = [e.name for e in protocol.epochs] if protocol is not None else []
    allowed = ["trajectory", "recorded", "zero"] + (["epochs"] + epochs if protocol else []) + ["CHANNEL=value,..."]
    conditions: list[tuple[str, np.ndarray]] = []
    trajectory = None
    for spec in specs:
        if spec == "trajectory":
            trajectory = len(conditions)
            conditions.append(("trajectory", np.zeros(len(channels), np.float32)))
        elif spec == "recorded":
            conditions += recorded_conditions(recorded_inputs, channels)
        elif spec == "zero":
            conditions.append(("zero", np.zeros(len(channels), np.float32)))
        elif protocol is not None and spec == "epochs":
            conditions += protocol_conditions(protocol)
        elif protocol is not None and spec in epochs:
            conditions += protocol_conditions(protocol, (spec,))
        elif "=" in spec:
            conditions.append((spec, parse_channels(spec, channels)))
        else:
            raise ConfigError(f"unknown input condition {spec!r}; allowed: {', '.join(allowed)}")
    if not conditions:
        raise ConfigError(f"no input condition given; allowed: {', '.join(allowed)}")
    return InputConditions([c[0] for c in conditions], np.stack([c[1] for c in conditions]), trajectory)


def default_specs(protocol: Protocol | None) -> list[str]:
    """``epochs`` for tasks with a protocol, ``recorded`` otherwise."""
    return ["epochs"] if protocol is not None else ["recorded"]


def recorded_steps(ds: xr.Dataset, seed: int, max_trials: int = MAX_TRIALS, variable: str = "rates"
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rates (S, N), inputs (S, n_in)) of the valid steps of at most ``max_trials`` recorded
    trials drawn at random (seeded), and those trials' rates (K, T, N; NaN after a trial's end):
    a large record is never read whole. ``variable``: the rates to read (``value_rates``: the
    value network's)."""
    if variable not in ds:
        raise ConfigError(f"the records hold no {variable!r}; record the run again (`rewardrnn record`)")
    n = ds.sizes["trial"]
    trials = np.sort(np.random.default_rng((seed, 1)).choice(n, min(n, max_trials), replace=False))
    sub = ds.isel(trial=trials)
    rates, inputs = sub[variable].values, sub["inputs"].values
    valid = sub["valid"].values.astype(bool) if "valid" in sub else np.isfinite(rates).all(-1)
    return rates[valid], inputs[valid], rates


def candidates(rates: np.ndarray, inputs: np.ndarray, conditions: InputConditions, n_total: int,
               states_from_rates, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(states (P, N), inputs (P, n_in), condition index (P,)): ``n_total`` candidates spread
    evenly over the conditions (at least one each), drawn among the recorded steps."""
    if isinstance(n_total, bool) or not isinstance(n_total, (int, np.integer)) or n_total < 1:
        raise ConfigError(f"--candidates must be an integer >= 1, got {n_total!r}")
    if noise < 0 or not np.isfinite(noise):
        raise ConfigError(f"--noise must be a finite number >= 0 (state units), got {noise!r}")
    if len(rates) == 0:
        raise ConfigError("the records hold no valid step to start from")
    n_units = rates.shape[-1]
    # each candidate: its state, Adam's moments and trajectory chunk (~64 N) and, if distinct, its
    # Jacobian (N x N), in float64 at most
    resources.check_fits(n_total * (n_units * n_units + 64 * n_units) * 8, f"--candidates {n_total:,} "
                         f"({n_units} units)", "ask for fewer candidates")
    n_cond = len(conditions.labels)
    per = np.full(n_cond, max(n_total // n_cond, 1))
    per[: max(n_total - per.sum(), 0)] += 1
    rng = np.random.default_rng(seed)
    index = np.concatenate([rng.integers(0, len(rates), k) for k in per])
    condition = np.repeat(np.arange(n_cond), per)
    states = np.asarray(states_from_rates(rates[index]), np.float32)
    if noise:
        states = states + rng.normal(0.0, noise, states.shape).astype(np.float32)
    u = conditions.values[condition].copy()
    if conditions.trajectory is not None:
        mine = condition == conditions.trajectory
        u[mine] = inputs[index[mine]]
    return states, u, condition
