"""``rewardrnn perturb``: a trained network run under a manipulation, beside the intact network on
the very same trials, without retraining and without touching the checkpoint.

Writes ``RUN/perturbations/NAME/``:

* ``trials.csv``: the behaviour table of both runs (``manipulated`` False, then True; the same
  ``trial`` numbers are the same trials: conditions, input noise, recurrent noise (or kicks) and
  action draws are shared, so a difference is the manipulation's);
* ``summary.json``: ``network`` (the network manipulated), ``measures`` (the pooled numbers
  of this run kind, key -> words), ``manipulation`` (what was asked for,
  and ``units`` / ``connections``: what it came to in this network), then ``intact`` and
  ``perturbed``, each with the run kind's pooled numbers (Song's tasks: ``p_decision``,
  ``p_correct`` (P(correct | decision)), ``p_choice`` (each action's share of decided trials);
  NeuroGym: the same from NeuroGym's trials, with ``performance``; Miconi's tasks:
  ``p_correct``, ``p_sign_correct`` and ``mean_error``), ``per_condition`` and, where the task
  has a psychometric curve, ``psychometric`` (``mu``, the point of subjective equality, and ``sigma``, both in the
  task's signed-stimulus unit, with standard errors); and ``difference`` (perturbed minus
  intact, for the pooled numbers and mu, sigma);
* ``psychometric.png`` / ``.svg`` (both curves, where there is one) and ``performance.png`` /
  ``.svg`` (the pooled measures per condition).

Every run kind (:mod:`rewardrnn.manipulation.targets`): the actor-critic and the supervised
learner on native tasks and task files, the actor-critic on NeuroGym environments, Miconi's
rule on his tasks and acting in Song's.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from rewardrnn import safe_files
from rewardrnn.errors import ConfigError, RunFolderError
from rewardrnn.manipulation import groups, targets
from rewardrnn.manipulation.applied import Applied
from rewardrnn.manipulation.spec import Cut, Manipulation, check_name
from rewardrnn.training import run_folder
from rewardrnn.training.run_folder import RunFolder

#: Where the perturbations of a run go.
FOLDER = "perturbations"
#: Trials per condition when ``-n`` is not given (each run: intact and perturbed).
DEFAULT_TRIALS_PER_CONDITION = 200


def perturb(run: str | Path, manipulation: Manipulation, seed: int | None = None,
            trials_per_condition: int = DEFAULT_TRIALS_PER_CONDITION, name: str | None = None,
            overwrite: bool = False) -> tuple[dict, Path]:
    """Run the best parameters of ``seed`` intact and under ``manipulation`` on the same
    ``trials_per_condition`` trials of every condition (NeuroGym: trials per action, as
    ``evaluate``); write ``RUN/perturbations/NAME/`` (module docstring; NAME from the
    manipulation unless given). Returns (summary, folder). Everything is checked before anything
    is written; a folder holding another manipulation's results is refused unless ``overwrite``."""
    if isinstance(trials_per_condition, bool) or not isinstance(trials_per_condition, int) or trials_per_condition < 1:
        raise ConfigError(f"-n (trials per condition) must be an integer >= 1, got {trials_per_condition!r}")
    folder = RunFolder(run)
    _, s = folder.seed_index(seed)
    name = check_name(name) if name is not None else manipulation.folder_name()
    with run_folder.locked(folder.path):
        target = targets.target(folder, s, manipulation.network, activity=lambda: _activity(folder, s))
        applied, resolved = resolve(manipulation, target)
        out = safe_files.inside(folder.path, FOLDER, name)
        _check_not_other(out, manipulation, overwrite)
        intact = target.behaviour(trials_per_condition, None)
        perturbed = target.behaviour(trials_per_condition, applied)
        summary = {"run_id": folder.identity["run_id"], "seed": s, "network": target.network,
                   "trials_per_condition": trials_per_condition,
                   "measures": {key: words for key, words, _ in target.measures},
                   "manipulation": {**manipulation.to_dict(), "words": manipulation.words(), **resolved},
                   "intact": target.describe(intact), "perturbed": target.describe(perturbed)}
        summary["difference"] = difference(summary["intact"], summary["perturbed"], summary["measures"])
        out = folder.derived_folder(FOLDER, name)
        both = pd.concat([intact.assign(manipulated=False), perturbed.assign(manipulated=True)], ignore_index=True)
        safe_files.atomic_write_text(out / "trials.csv", both.to_csv(index=False))
        run_folder.write_json(out / "summary.json", summary)
        _figures(target, summary, out, target.variables(intact))
    return summary, out


def _activity(folder: RunFolder, seed: int) -> Path:
    """The seed's activity records, recorded with the defaults first if missing or stale."""
    from rewardrnn import verbs

    if not verbs.current_records(folder, seed):
        verbs.record(folder.path, seed=seed)
    return safe_files.inside(verbs.records_dir(folder.path, seed), verbs.ACTIVITY)


def pooled_line(summary: dict, label: str) -> str:
    """One line of ``summary[label]`` (``intact`` or ``perturbed``): its pooled measures in
    their words, each action's share and the psychometric mu."""
    part = summary[label]
    numbers = [f"{words} {number_text(part.get(key))}" for key, words in summary["measures"].items()]
    numbers += [f"P({a}) {p:.3f}" for a, p in part.get("p_choice", {}).items()]
    if "mu" in part.get("psychometric", {}):
        numbers.append(f"mu {part['psychometric']['mu']:+.3f}")
    return f"{label:<9} " + "  ".join(numbers)


def number_text(value) -> str:
    """A pooled number as the CLI and the report show it (3 decimals; – where there is none)."""
    return "–" if not isinstance(value, (int, float)) or value != value else f"{value:.3f}"


def resolve(manipulation: Manipulation, target: targets.Target) -> tuple[Applied, dict]:
    """The manipulation as arrays for ``target``'s network, and what it came to (units,
    connections cut) for the summary. Every name is checked here, before any simulation."""
    view = target.view
    n, n_in, n_out = view.n_units, len(view.inputs), target.n_readout
    seed = manipulation.seed
    if manipulation.during and not target.epochs:
        raise ConfigError(f"--during: {target.no_epochs}; manipulate the whole trial instead")
    unknown = [e for e in manipulation.during if e not in target.epochs]
    if unknown:
        raise ConfigError(f"--during {','.join(unknown)}: not an epoch of this task; epochs: "
                          f"{', '.join(target.epochs)}")
    during = None
    if manipulation.during:
        during = np.asarray([f in manipulation.during for f in target.flag_names])
    silenced = groups.union(manipulation.silence, view, seed)
    current = np.zeros(n, np.float32)
    stimulated = []
    for group, amplitude in manipulation.stimulate:
        members = groups.units(group, view, seed)
        current[members] += amplitude
        stimulated.append({"group": group, "amplitude": amplitude, "units": members.tolist()})
    keeps = {"recurrent": np.ones((n, n), np.float32), "input": np.ones((n_in, n), np.float32),
             "readout": np.ones((n, n_out), np.float32)}
    rng = np.random.default_rng([seed, 1])
    cut_words = []
    for cut in manipulation.cut:
        if cut.what == "readout" and not n_out:
            raise ConfigError(f"--cut {_describe_cut(cut)}: {target.no_readout}")
        before = _removed(keeps, target.existing)
        _apply_cut(cut, keeps, target.existing, view, seed, rng)
        cut_words.append({"cut": _describe_cut(cut), "connections_removed": _removed(keeps, target.existing) - before})
    noise_std = 0.0
    if manipulation.noise:
        noise_std = float(np.sqrt(2 * target.tau_ms / target.dt_ms * manipulation.noise))
    applied = Applied.build(n, n_in, n_out, len(target.flag_names), silenced=silenced, current=current,
                            noise_std=noise_std, keep_rec=keeps["recurrent"], keep_in=keeps["input"],
                            keep_out=keeps["readout"], during=during)
    resolved = {"units": {"silenced": silenced.tolist(), "stimulated": stimulated},
                "connections": cut_words, "extra_noise_std_per_step": noise_std,
                "recurrent_connections_existing": int(target.existing["recurrent"].sum())}
    return applied, resolved


def _removed(keeps: dict, existing: dict) -> int:
    """How many of the network's existing connections the cuts so far remove."""
    return int(sum(((keeps[k] == 0) & existing[k]).sum() for k in keeps))


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


def difference(intact: dict, perturbed: dict, measures) -> dict:
    """Perturbed minus intact: each of the pooled ``measures`` (keys) both have, each P(choice),
    and the psychometric mu and sigma where both fits exist."""
    out = {k: perturbed[k] - intact[k] for k in measures if intact.get(k) is not None and perturbed.get(k) is not None}
    if "p_choice" in intact:
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


def _figures(target: targets.Target, summary: dict, out: Path, variables: tuple[str, ...]) -> None:
    from rewardrnn.figures import perturbation as figs
    words = summary["manipulation"]["words"]
    a, b = summary["intact"].get("psychometric", {}), summary["perturbed"].get("psychometric", {})
    if "mu" in a and "mu" in b:
        fig = figs.psychometric_comparison(a, b, a["stimulus"], f"P({a['positive_action']}) (%)", words)
        safe_files.save_figure(fig, out, "psychometric", dpi=150)
    fig = figs.performance_comparison(summary["intact"]["per_condition"], summary["perturbed"]["per_condition"],
                                      list(variables), words, target.measures)
    safe_files.save_figure(fig, out, "performance", dpi=150)
