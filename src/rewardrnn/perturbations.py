"""``rewardrnn perturb``: a trained network run under a manipulation, beside the intact network on
the very same trials, without retraining and without touching the checkpoint.

Writes ``RUN/perturbations/NAME/``:

* ``trials.csv``: the behaviour table of both runs (``manipulated`` False, then True; the same
  ``trial`` numbers are the same trials: conditions, input noise, recurrent noise and action
  draws are shared, so a difference is the manipulation's);
* ``summary.json``: ``manipulation`` (what was asked for, and ``units`` / ``connections``: what it
  came to in this network), then ``intact`` and ``perturbed``, each with ``p_decision``,
  ``p_correct`` (P(correct | decision)), ``p_choice`` (each action's share of decided trials),
  ``per_condition`` (the same per condition of the grid and pooled, as ``evaluate``) and, where
  the task has a psychometric curve, ``psychometric`` (``mu``, the point of subjective
  equality, and ``sigma``, both in the task's signed-stimulus unit, with standard errors); and
  ``difference`` (perturbed minus intact, for the pooled numbers and mu, sigma);
* ``psychometric.png`` / ``.svg`` (both curves) and ``performance.png`` / ``.svg``
  (P(decision) and P(correct | decision) per condition).

Runs: the actor-critic on native tasks and task files (Song et al.'s gated network). Other run
kinds are refused in one line.
"""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np
import pandas as pd

from rewardrnn import keys, safe_files
from rewardrnn.analysis.behaviour import (fit_points, json_scalar, performance_by_condition, psychometric_points,
                                          table_performance)
from rewardrnn.errors import ConfigError, RunFolderError
from rewardrnn.manipulation import gated, groups
from rewardrnn.manipulation.spec import Cut, Manipulation, check_name
from rewardrnn.training import run_folder
from rewardrnn.training.run_folder import RunFolder

#: Where the perturbations of a run go.
FOLDER = "perturbations"
#: Trials per condition when ``-n`` is not given (each run: intact and perturbed).
DEFAULT_TRIALS_PER_CONDITION = 200
#: Run kinds that perturb can manipulate.
KINDS = ("actor-critic", "supervised")


def perturb(run: str | Path, manipulation: Manipulation, seed: int | None = None,
            trials_per_condition: int = DEFAULT_TRIALS_PER_CONDITION, name: str | None = None,
            overwrite: bool = False) -> tuple[dict, Path]:
    """Run the best parameters of ``seed`` intact and under ``manipulation`` on the same
    ``trials_per_condition`` trials of every condition; write ``RUN/perturbations/NAME/``
    (module docstring; NAME from the manipulation unless given). Returns (summary, folder).
    Everything is checked before anything is written; a folder holding another manipulation's
    results is refused unless ``overwrite``."""
    if isinstance(trials_per_condition, bool) or not isinstance(trials_per_condition, int) or trials_per_condition < 1:
        raise ConfigError(f"-n (trials per condition) must be an integer >= 1, got {trials_per_condition!r}")
    folder = RunFolder(run)
    if folder.kind.name not in KINDS:
        raise ConfigError(f"perturb runs {', '.join(KINDS)} runs (Song et al.'s gated network on native tasks); "
                          f"{folder.path} is a {folder.kind.name} run")
    _, s = folder.seed_index(seed)
    name = check_name(name) if name is not None else manipulation.folder_name()
    learner = folder.learner
    policy, masks = folder.best_params(s)["policy"], folder.learner_state(s).policy_masks
    with run_folder.locked(folder.path):
        view = network_view(folder, s, policy, masks)
        applied, resolved = resolve(manipulation, view, learner, np.asarray(masks["W_rec"]),
                                    np.asarray(masks["W_rec_gates"]))
        out = safe_files.inside(folder.path, FOLDER, name)
        _check_not_other(out, manipulation, overwrite)
        from rewardrnn.records.behaviour import behaviour_table
        key = jax.random.PRNGKey(keys.EVALUATION_SEED)
        intact = behaviour_table(learner, policy, masks, key, trials_per_condition)
        perturbed = behaviour_table(learner, policy, masks, key, trials_per_condition, manipulation=applied)
        protocol = learner.env.protocol
        summary = {"run_id": folder.identity["run_id"], "seed": s, "trials_per_condition": trials_per_condition,
                   "manipulation": {**manipulation.to_dict(), "words": manipulation.words(), **resolved},
                   "intact": describe(protocol, intact), "perturbed": describe(protocol, perturbed)}
        summary["difference"] = difference(summary["intact"], summary["perturbed"])
        out = folder.derived_folder(FOLDER, name)
        both = pd.concat([intact.assign(manipulated=False), perturbed.assign(manipulated=True)], ignore_index=True)
        safe_files.atomic_write_text(out / "trials.csv", both.to_csv(index=False))
        run_folder.write_json(out / "summary.json", summary)
        _figures(protocol, intact, perturbed, summary, out)
    return summary, out


def network_view(folder: RunFolder, seed: int, policy, masks) -> groups.NetworkView:
    """The trained decision network of ``seed`` as :mod:`.groups` sees it."""
    protocol = folder.learner.env.protocol
    signs = np.asarray(masks["dale_sign"]) if "dale_sign" in masks else None
    return groups.NetworkView(n_units=int(policy["x0"].shape[0]), actions=tuple(protocol.actions),
                              inputs=tuple(protocol.inputs), readout=np.asarray(policy["W_out"]), dale_signs=signs,
                              selectivity=lambda action: choice_dprime(folder, seed, action))


def choice_dprime(folder: RunFolder, seed: int, action: str) -> np.ndarray:
    """Each unit's d′ between decided trials that chose ``action`` and those that chose another,
    over the epoch before the response epoch (the stimulus, in Song's tasks), from the run's
    records (recorded with the defaults first if missing)."""
    from rewardrnn import verbs
    from rewardrnn.analysis import neural
    from rewardrnn.records.activity import open_activity

    if not verbs.current_records(folder, seed):
        verbs.record(folder.path, seed=seed)
    ds = open_activity(safe_files.inside(verbs.records_dir(folder.path, seed), verbs.ACTIVITY))
    try:
        table = neural.trial_table(ds)
        decided = table["decision"].to_numpy(bool)
        chose = (table["choice"] == action).to_numpy()
        if not (decided & chose).any() or not (decided & ~chose).any():
            raise ConfigError(f"unit group dprime:{action}:K: the records have no decided trials "
                              f"{'choosing' if not (decided & chose).any() else 'not choosing'} {action}")
        epochs = folder.learner.env.epoch_names
        response = epochs.index(folder.learner.env.protocol.response_epoch)
        epoch = epochs[max(response - 1, 0)]
        d = neural.choice_selectivity(ds.assign_coords(chose=("trial", chose)), label="chose", epoch=epoch,
                                      where=decided)
        return np.asarray(d.values, float)
    finally:
        ds.close()


def resolve(manipulation: Manipulation, view: groups.NetworkView, learner, rec_mask: np.ndarray,
            gate_mask: np.ndarray) -> tuple[gated.Applied, dict]:
    """The manipulation as arrays for ``learner``'s decision network, and what it came to
    (units, connections cut) for the summary. ``rec_mask`` / ``gate_mask``: the network's fixed
    sparsity masks (existing connections). Every name is checked here, before any simulation."""
    env = learner.env
    n, n_in, n_actions = view.n_units, len(view.inputs), len(view.actions)
    seed = manipulation.seed
    unknown = [e for e in manipulation.during if e not in env.epoch_names]
    if unknown:
        raise ConfigError(f"--during {','.join(unknown)}: not an epoch of this task; epochs: {', '.join(env.epoch_names)}")
    during = None
    if manipulation.during:
        during = np.asarray([f in manipulation.during for f in env.flag_names])
    silenced = groups.union(manipulation.silence, view, seed)
    current = np.zeros(n, np.float32)
    stimulated = []
    for group, amplitude in manipulation.stimulate:
        members = groups.units(group, view, seed)
        current[members] += amplitude
        stimulated.append({"group": group, "amplitude": amplitude, "units": members.tolist()})
    keep_rec, keep_in, keep_out = np.ones((n, n), np.float32), np.ones((n_in, n), np.float32), \
        np.ones((n, n_actions), np.float32)
    existing = {"recurrent": (rec_mask > 0) | (gate_mask[:, :n] > 0) | (gate_mask[:, n:] > 0),
                "input": np.ones((n_in, n), bool), "readout": np.ones((n, n_actions), bool)}
    keeps = {"recurrent": keep_rec, "input": keep_in, "readout": keep_out}
    rng = np.random.default_rng([seed, 1])
    cut_words = []
    for cut in manipulation.cut:
        before = int(sum((k == 0).sum() for k in keeps.values()))
        _apply_cut(cut, keeps, existing, view, seed, rng)
        cut_words.append({"cut": _describe_cut(cut), "connections_removed":
                          int(sum((k == 0).sum() for k in keeps.values())) - before})
    noise_std = 0.0
    if manipulation.noise:
        noise_std = float(np.sqrt(2 * learner.policy_config.tau_ms / env.dt_ms * manipulation.noise))
    applied = gated.Applied.build(n, n_in, n_actions, len(env.flag_names), silenced=silenced, current=current,
                                  noise_std=noise_std, keep_rec=keep_rec, keep_in=keep_in, keep_out=keep_out,
                                  during=during)
    resolved = {"units": {"silenced": silenced.tolist(), "stimulated": stimulated},
                "connections": cut_words, "extra_noise_std_per_step": noise_std,
                "recurrent_connections_existing": int(existing["recurrent"].sum())}
    return applied, resolved


def _apply_cut(cut: Cut, keeps: dict, existing: dict, view: groups.NetworkView, seed: int, rng) -> None:
    keep = keeps[cut.what]
    if cut.source is not None:
        source, target = groups.units(cut.source, view, seed), groups.units(cut.target, view, seed)
        keep[np.ix_(source, target)] = 0.0
        return
    if cut.channel is not None:
        names = view.inputs if cut.what == "input" else view.actions
        if cut.channel not in names:
            what = "an input channel" if cut.what == "input" else "an action"
            raise ConfigError(f"--cut {cut.what}:{cut.channel}: {cut.channel!r} is not {what} of this task "
                              f"({', '.join(names)})")
        index = names.index(cut.channel)
        if cut.what == "input":
            keep[index, :] = 0.0
        else:
            keep[:, index] = 0.0
        return
    candidates = np.flatnonzero(existing[cut.what].ravel() & (keep.ravel() > 0))
    k = int(round(cut.fraction * candidates.size))
    keep.ravel()[rng.choice(candidates, k, replace=False)] = 0.0


def _describe_cut(cut: Cut) -> str:
    if cut.source is not None:
        return f"recurrent {cut.source} -> {cut.target}"
    if cut.channel is not None:
        return f"{cut.what} {cut.channel}"
    return f"{cut.what}, fraction {cut.fraction:g} of the existing connections at random"


def describe(protocol, table: pd.DataFrame) -> dict:
    """The behaviour of one run: pooled P(decision), P(correct | decision), P(choice) per action
    (share of decided trials), per condition, and the psychometric fit where the task has one."""
    decided = table[table["decision"]]
    p_choice = {a: float((decided["choice"] == a).mean()) if len(decided) else 0.0
                for i, a in enumerate(protocol.actions) if i != protocol.fixate_action}
    perf = table_performance(protocol, table)
    per_condition = performance_by_condition(table, list(protocol.conditions))
    variables = [v for v in protocol.conditions if v in per_condition]
    rows = []
    for row in per_condition.to_dict("records"):
        select = np.ones(len(table), bool)
        for v in variables:
            if row[v] != "all":
                select &= (table[v] == row[v]).to_numpy()
        chosen = table.loc[select & table["decision"].to_numpy(bool), "choice"]
        rows.append({**{k: json_scalar(v) for k, v in row.items()},
                     "p_choice": {a: float((chosen == a).mean()) if len(chosen) else 0.0 for a in p_choice}})
    out = {**perf, "p_choice": p_choice, "n_trials": int(len(table)), "per_condition": rows}
    spec = protocol.psychometric
    if spec is not None:
        points = psychometric_points(table, spec.signed_stimulus, spec.positive_action, spec.among)
        try:
            fit = fit_points(points)
            out["psychometric"] = {"mu": fit.mu, "mu_se": fit.mu_se, "sigma": fit.sigma, "sigma_se": fit.sigma_se,
                                   "stimulus": spec.label, "positive_action": spec.positive_action,
                                   "points": json.loads(points.to_json(orient="records"))}
        except ValueError as error:
            out["psychometric"] = {"skipped": str(error)}
    return out


def difference(intact: dict, perturbed: dict) -> dict:
    """Perturbed minus intact: pooled P(decision), P(correct | decision), each P(choice), and
    the psychometric mu and sigma where both fits exist."""
    out = {k: perturbed[k] - intact[k] for k in ("p_decision", "p_correct")}
    out["p_choice"] = {a: perturbed["p_choice"][a] - intact["p_choice"][a] for a in intact["p_choice"]}
    a, b = intact.get("psychometric", {}), perturbed.get("psychometric", {})
    if "mu" in a and "mu" in b:
        out["psychometric_mu"] = b["mu"] - a["mu"]
        out["psychometric_sigma"] = b["sigma"] - a["sigma"]
    return out


def _check_not_other(out: Path, manipulation: Manipulation, overwrite: bool) -> None:
    summary = out / "summary.json"
    if overwrite or not summary.is_file():
        return
    try:
        saved = json.loads(summary.read_text()).get("manipulation", {}).get("words")
    except (OSError, ValueError, AttributeError, RecursionError):
        saved = None
    if saved != manipulation.words():
        raise RunFolderError(f"{out} holds the results of another manipulation ({saved}); choose another --name "
                             "or give --overwrite")


def _figures(protocol, intact: pd.DataFrame, perturbed: pd.DataFrame, summary: dict, out: Path) -> None:
    from rewardrnn.figures import perturbation as figs
    words = summary["manipulation"]["words"]
    spec = protocol.psychometric
    if spec is not None and "mu" in summary["intact"].get("psychometric", {}) \
            and "mu" in summary["perturbed"].get("psychometric", {}):
        fig = figs.psychometric_comparison(summary["intact"]["psychometric"], summary["perturbed"]["psychometric"],
                                           spec.label, f"P({spec.positive_action}) (%)", words)
        safe_files.save_figure(fig, out, "psychometric", dpi=150)
    fig = figs.performance_comparison(summary["intact"]["per_condition"], summary["perturbed"]["per_condition"],
                                      list(protocol.conditions), words)
    safe_files.save_figure(fig, out, "performance", dpi=150)
