"""What ``rewardrnn perturb`` manipulates in each kind of run (:func:`target`): the trained
network as unit groups see it (:class:`~.groups.NetworkView`), which connections exist, the
epochs ``--during`` may name, and how the run's trials are simulated (intact, or under an
:class:`~.applied.Applied` manipulation, on the same trials) and summarised.

* :class:`GatedNative`: Song et al.'s gated decision network (the actor-critic and the supervised
  learner on native tasks and task files); epochs are the task's.
* :class:`RateNative`: Miconi's rate network acting in Song's tasks (``perturbation/native``).
  It has no readout weights: its choice units are units 0..K-1, so ``readout:ACTION:K`` is the
  choice unit of ACTION and the K-1 units with the largest weights onto it (relative to the
  other choice units); ``--cut readout`` is refused (silence a choice unit instead).
* :class:`GatedNeuroGym`: the gated network on a NeuroGym environment (``actor-critic/ngym``);
  actions and inputs are named by their indices ("0" is fixation, NeuroGym's convention), the
  epochs are the environment's periods (its ``timing``), and ``-n`` is trials per action.
* :class:`RateMiconi`: Miconi's rate network on his tasks (``perturbation``): no actions; the
  output neuron is a unit (``readout:K``: the K units with the largest weights onto it, ``|J[out,
  i]|``); the epochs are the task's windows (:attr:`~rewardrnn.tasks.miconi.ContinuousTask.epochs`);
  ``exc`` / ``inh`` on the E/I network. Its measures: the trial error (mean ``|output - target|``
  over the response window, the training error of the spec) and P(error below the task's
  threshold), Miconi's criterion for one trial, and P(the output's mean over the response
  window has the target's sign): on DNMS (targets ±0.98, threshold 1) an output held at 0 has
  an error of 0.98 and passes the threshold, but has no sign.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
import dataclasses

import jax
import numpy as np
import pandas as pd

from rewardrnn import keys
from rewardrnn.analysis.behaviour import (NotEnoughTrials, fit_points, json_scalar, performance_by_condition,
                                          psychometric_points, table_performance)
from rewardrnn.errors import ConfigError
from rewardrnn.manipulation import groups
from rewardrnn.networks import gru
from rewardrnn.training.run_folder import RunFolder

#: A readout weight standing for "is the readout" (a rate network's choice unit of an action).
_SELF = 1e9


class Target:
    """The interface (module docstring). Attributes set by each kind: ``network`` (words),
    ``view``, ``n_readout`` (readout columns; 0: none), ``existing`` (bool arrays of the
    connections that exist: ``recurrent`` (N, N) [pre, post], ``input`` (n_in, N), ``readout``
    (N, n_readout)), ``epochs`` (names ``--during`` accepts), ``flag_names`` (what
    :attr:`Applied.during` indexes), ``tau_ms`` / ``dt_ms`` (the extra noise's convention),
    ``condition_variables`` and ``measures`` ((summary key, words, scale: 100 for a share shown
    in %) of the pooled numbers, in the order the summary, the CLI, the figure and the report
    show them)."""

    network: str
    view: groups.NetworkView
    n_readout: int
    existing: dict
    epochs: tuple[str, ...] = ()
    flag_names: tuple[str, ...] = ()
    tau_ms: float
    dt_ms: float
    condition_variables: tuple[str, ...] = ()
    measures: tuple = ()
    activity: Callable[[], Path] | None = None
    no_epochs = "this run's trials have no epochs"
    no_readout = "this network has no readout weights"

    def behaviour(self, trials_per_condition: int, applied) -> pd.DataFrame:
        """The behaviour table of the run's evaluation trials, intact (``applied`` None) or manipulated."""
        raise NotImplementedError

    def describe(self, table: pd.DataFrame) -> dict:
        """The pooled and per-condition numbers of one behaviour table."""
        raise NotImplementedError

    def variables(self, table: pd.DataFrame) -> tuple[str, ...]:
        """The condition variables of ``table``'s ``per_condition`` rows."""
        return self.condition_variables


def target(folder: RunFolder, seed: int, network: str = "decision",
           activity: Callable[[], Path] | None = None) -> Target:
    """The target of ``seed``'s ``network`` (``decision``, or ``value``: the actor-critic's value
    network on native tasks) in ``folder`` (every run kind). ``activity``: the path of the seed's
    activity records, recorded first if missing (the face's ``record``; groups that need the
    records, ``dprime:`` and ``class:``, are refused without it)."""
    families = {"gated/native": GatedNative, "rate/native": RateNative, "gated/neurogym": GatedNeuroGym,
                "rate/miconi": RateMiconi, "gated/episodes": GatedEpisodes}  # by the trained network's family (RunKind.family), not the learner
    try:
        kind = families[folder.kind.family]
    except KeyError:
        raise ConfigError(f"perturb does not know the network family {folder.kind.family!r} of {folder.path}; "
                          f"families: {', '.join(families)}") from None
    made = GatedValue(folder, seed) if network == "value" else kind(folder, seed)
    made.activity = activity
    return made


# ---- Song's tasks ------------------------------------------------------------------------------
class _SongTask(Target):
    """Summaries of a native task's behaviour table (P(decision), P(correct | decision), P(choice),
    per condition, psychometric fit)."""

    def __init__(self, folder: RunFolder, seed: int):
        self.folder, self.seed = folder, seed
        env = folder.learner.env
        self.protocol = env.protocol
        self.epochs, self.flag_names = tuple(env.epoch_names), tuple(env.flag_names)
        self.dt_ms = float(env.dt_ms)
        self.condition_variables = tuple(self.protocol.conditions)
        from rewardrnn.figures.perturbation import SONG_MEASURES
        self.measures = SONG_MEASURES

    def describe(self, table: pd.DataFrame) -> dict:
        protocol = self.protocol
        decided = table[table["decision"]]
        p_choice = {a: float((decided["choice"] == a).mean()) if len(decided) else 0.0
                    for i, a in enumerate(protocol.actions) if i != protocol.fixate_action}
        per_condition = performance_by_condition(table, list(protocol.conditions))
        variables = [v for v in protocol.conditions if v in per_condition]
        rows = []
        for row in per_condition.to_dict("records"):
            select = np.ones(len(table), bool)
            for v in variables:
                if row[v] != "all":
                    select &= (table[v] == row[v]).to_numpy()
            chosen = table.loc[select & table["decision"].to_numpy(bool), "choice"]
            rows.append({**{k: json_scalar(v) for k, v in row.items()}, **self.numbers(table[select]),
                         "p_choice": {a: float((chosen == a).mean()) if len(chosen) else 0.0 for a in p_choice}})
        out = {**table_performance(protocol, table), **self.numbers(table), **self.pooled_only(table),
               "p_choice": p_choice, "n_trials": int(len(table)), "per_condition": rows}
        spec = protocol.psychometric
        if spec is not None:
            out["psychometric"] = _psychometric(table, spec)
        return out

    def numbers(self, table: pd.DataFrame) -> dict:
        """The kind's own numbers of the trials of ``table``, pooled and per condition (none here)."""
        return {}

    def pooled_only(self, table: pd.DataFrame) -> dict:
        """The kind's own numbers of the whole table only (none here)."""
        return {}

    def selectivity(self, action: str) -> np.ndarray:
        """Each unit's choice d′ for ``action`` from the run's records (:func:`choice_dprime`)."""
        env = self.folder.learner.env
        response = env.epoch_names.index(self.protocol.response_epoch)
        return choice_dprime(self.activity, action, env.epoch_names[max(response - 1, 0)],
                             self.protocol.fixate_action)


def _psychometric(table: pd.DataFrame, spec) -> dict:
    points = psychometric_points(table, spec.signed_stimulus, spec.positive_action, spec.among)
    try:
        fit = fit_points(points)
    except ValueError as error:
        return {"skipped": str(error)}
    import json
    return {"mu": fit.mu, "mu_se": fit.mu_se, "sigma": fit.sigma, "sigma_se": fit.sigma_se, "stimulus": spec.label,
            "positive_action": spec.positive_action, "points": json.loads(points.to_json(orient="records"))}


class GatedNative(_SongTask):
    """Song et al.'s gated decision network on a native task (actor-critic, supervised)."""

    network = "decision"

    def __init__(self, folder: RunFolder, seed: int):
        super().__init__(folder, seed)
        self.policy = folder.best_params(seed)["policy"]
        self.masks = folder.learner_state(seed).policy_masks
        self.view, self.n_readout, self.existing = _gated_view(self.policy, self.masks, tuple(self.protocol.actions),
                                                               tuple(self.protocol.inputs), self.selectivity)
        self.tau_ms = float(folder.learner.policy_config.tau_ms)

    def behaviour(self, trials_per_condition: int, applied) -> pd.DataFrame:
        from rewardrnn.records.behaviour import behaviour_table
        return behaviour_table(self.folder.learner, self.policy, self.masks, jax.random.PRNGKey(keys.EVALUATION_SEED),
                               trials_per_condition, manipulation=applied)


def _gated_view(policy, masks, actions, inputs, selectivity):
    """(view, readout columns, existing connections) of a gated network's parameters."""
    n, n_out = int(policy["x0"].shape[0]), int(policy["W_out"].shape[1])
    rec, gates = np.asarray(masks["W_rec"]), np.asarray(masks["W_rec_gates"])
    signs = np.asarray(masks["dale_sign"]) if "dale_sign" in masks else None
    view = groups.NetworkView(n_units=n, actions=actions, inputs=inputs, readout=np.asarray(policy["W_out"]),
                              dale_signs=signs, selectivity=selectivity)
    existing = {"recurrent": (rec > 0) | (gates[:, :n] > 0) | (gates[:, n:] > 0),
                "input": np.ones((len(inputs), n), bool), "readout": np.ones((n, n_out), bool)}
    return view, n_out, existing


class GatedValue(_SongTask):
    """The actor-critic's gated value network on a native task (Song et al.'s baseline). It reads
    the decision network's rates and its one-hot action (input channels ``r0`` .. ``r{N-1}`` and
    the task's actions, so ``--cut input:CHOOSE-LEFT`` removes the action input) and predicts
    the return to go, ``V_k``; it never acts, so the behaviour of the perturbed run is the intact
    run's, trial for trial (the paper's "not executing" half). What changes is the prediction;
    the numbers, pooled and per condition: ``value_loss`` (the value network's training loss on
    these trials: the mean over executed steps of ``(V_k - G_k)^2``, ``G_k`` the return to go,
    in squared reward units), ``value_at_choice`` (mean ``V`` at the step that ended the trial,
    in reward units) and, pooled, ``value_reward_r`` (Pearson r across trials between ``V`` at
    that step and the trial's reward). Groups: ``readout:K`` (the largest ``|W_out|`` of the
    prediction) and, on the economic task, ``class:NAME`` (the value-unit classes ``analyze``
    assigns, spec §6.8)."""

    network = "value"
    no_readout = "the value network's readout is its prediction"

    def __init__(self, folder: RunFolder, seed: int):
        kind = folder.kind.name
        if kind != "actor-critic":
            owner = {"supervised": "the supervised learner trains no value network",
                     "perturbation/native": "Miconi's rule has no value network (its baseline is a running average)",
                     "perturbation": "Miconi's rule has no value network (its baseline is a running average)",
                     "actor-critic/ngym": "the value network of NeuroGym runs cannot be manipulated yet"}
            raise ConfigError(f"--network value: {owner.get(kind, f'{kind} runs have no value network')}; "
                              "--network decision manipulates the decision network")
        learner = folder.learner
        if learner.value_net is not gru:
            raise ConfigError(f"--network value: this run's baseline is {learner.config.baseline!r}, not Song et "
                              "al.'s value network (--baseline gru): it has no units to manipulate")
        super().__init__(folder, seed)
        best = folder.best_params(seed)
        state = folder.learner_state(seed)
        self.policy, self.masks = best["policy"], state.policy_masks
        self.value, self.value_masks = best["value"], state.value_masks
        actions = tuple(self.protocol.actions)
        n_policy = int(self.policy["x0"].shape[0])
        self.view, self.n_readout, self.existing = _gated_view(
            self.value, self.value_masks, (), tuple(f"r{i}" for i in range(n_policy)) + actions, None)
        self.view = dataclasses.replace(self.view, classes=self.unit_classes)
        self.tau_ms = float(learner.value_config.tau_ms)
        # the behaviour beside the value network's numbers (unchanged by its manipulation, by construction)
        self.measures = (("value_loss", "value loss: mean (V - return)² per step", 1.0),
                         ("value_at_choice", "V at the choice step (reward units)", 1.0), *self.measures)

    def behaviour(self, trials_per_condition: int, applied) -> pd.DataFrame:
        from rewardrnn.records.value import value_table
        return value_table(self.folder.learner, (self.policy, self.masks, self.value, self.value_masks),
                           jax.random.PRNGKey(keys.EVALUATION_SEED), trials_per_condition, manipulation=applied)

    def numbers(self, table: pd.DataFrame) -> dict:
        return {"value_loss": float(table["value_loss"].mean()) if len(table) else float("nan"),
                "value_at_choice": float(table["value_at_choice"].mean()) if len(table) else float("nan")}

    def pooled_only(self, table: pd.DataFrame) -> dict:
        v, reward = table["value_at_choice"].to_numpy(float), table["reward"].to_numpy(float)
        spread = v.std() > 0 and reward.std() > 0
        return {"value_reward_r": float(np.corrcoef(v, reward)[0, 1]) if spread else float("nan")}

    def unit_classes(self, name: str) -> np.ndarray:
        """Whether each value unit is of class ``name`` (``analyze``'s value-unit types on the
        economic task, from the run's records: :func:`rewardrnn.analysis.song_suite.value_unit_types`)."""
        from rewardrnn.analysis import population
        if self.protocol.name != "economic":
            raise ConfigError(f"unit group class:{name}: analyze classifies value units on the economic task only")
        known = population.VALUE_UNIT_TYPES + ("offer_value",)
        if name not in known:
            raise ConfigError(f"unit group class:{name}: not a value-unit class; classes: {', '.join(known)}")
        try:
            types = _records_value_unit_types(self.activity)
        except NotEnoughTrials as error:
            raise ConfigError(f"unit group class:{name}: the records cannot classify the value units ({error}); "
                              "record more trials (rewardrnn record -n) or train further") from None
        return np.isin(types, ("offer_value_A", "offer_value_B")) if name == "offer_value" else types == name


def _records_value_unit_types(activity) -> np.ndarray:
    from rewardrnn.analysis.song_suite import value_unit_types
    with _records(activity) as ds:
        return value_unit_types(ds)


class RateNative(_SongTask):
    """Miconi's rate network acting in a native task (module docstring)."""

    network = "rate (Miconi's rule)"
    no_readout = ("Miconi's rate network has no readout weights: its choice units are units; silence them "
                  "(readout:ACTION:1 is ACTION's choice unit) or cut their inputs with FROM->TO")

    def __init__(self, folder: RunFolder, seed: int):
        super().__init__(folder, seed)
        learner = folder.learner
        self.state = folder.learner_state(seed)._replace(params=folder.best_params(seed))
        params, net = self.state.params, learner.network
        j, w_in = np.asarray(params["J"]), np.asarray(params["W_in"])
        actions = tuple(self.protocol.actions)
        readout = np.zeros((net.n_units, len(actions)))
        for unit, action in enumerate(learner.choices):
            readout[:, action] = j[unit]
            readout[unit, action] = _SELF
        self.view = groups.NetworkView(n_units=net.n_units, actions=actions, inputs=tuple(self.protocol.inputs),
                                       readout=readout, selectivity=self.selectivity)
        self.n_readout = 0
        self.existing = {"recurrent": j.T != 0, "input": w_in.T != 0, "readout": np.zeros((net.n_units, 0), bool)}
        self.tau_ms = float(net.tau_ms)

    def behaviour(self, trials_per_condition: int, applied) -> pd.DataFrame:
        from rewardrnn.records import perturbation_native
        return perturbation_native.record(self.folder.learner, self.state, jax.random.PRNGKey(keys.EVALUATION_SEED),
                                          trials_per_condition, None, manipulation=applied)


# ---- NeuroGym ----------------------------------------------------------------------------------
class GatedNeuroGym(Target):
    """Song et al.'s gated network on a NeuroGym environment (module docstring)."""

    network = "decision"
    no_epochs = "this environment has no NeuroGym periods (timing)"

    def __init__(self, folder: RunFolder, seed: int):
        self.folder, self.seed = folder, seed
        learner = folder.learner
        self.policy = folder.best_params(seed)["policy"]
        self.masks = folder.learner_state(seed).policy_masks
        actions = tuple(str(a) for a in range(learner.env.n_actions))
        inputs = tuple(str(i) for i in range(learner.env.n_inputs))
        self.view, self.n_readout, self.existing = _gated_view(self.policy, self.masks, actions, inputs,
                                                               self.selectivity)
        self.epochs = self.flag_names = learner.periods()
        self.tau_ms, self.dt_ms = float(learner.policy_config.tau_ms), float(learner.env.dt_ms)
        self.measures = (("p_decision", "P(respond)", 100.0), ("p_correct", "P(correct | respond)", 100.0),
                         ("performance", "NeuroGym performance", 100.0))

    def behaviour(self, trials_per_condition: int, applied) -> pd.DataFrame:
        from rewardrnn.records import neurogym
        table = neurogym.record(self.folder.learner, self.policy, self.masks, self.seed,
                                trials_per_condition * self.folder.learner.env.n_actions,  # per action, as evaluate
                                None, keys.ENV_EVALUATION,
                                manipulation=applied)
        table["choice"] = table["choice"].astype(str)
        return table

    def variables(self, table: pd.DataFrame) -> tuple[str, ...]:
        """NeuroGym's trials name their own condition: the column the generic suite groups by."""
        from rewardrnn.analysis.generic_suite import condition_column
        column = condition_column(table)
        return (column,) if column else ()

    def describe(self, table: pd.DataFrame) -> dict:
        out = _neurogym_numbers(table)
        out["p_choice"] = _choice_shares(table, self.view.actions)
        out["n_trials"] = int(len(table))
        rows = []
        for column in self.variables(table):
            for value, part in table.groupby(column):
                rows.append({column: json_scalar(value), **_neurogym_numbers(part),
                             "p_choice": _choice_shares(part, self.view.actions)})
            rows.append({column: "all", **_neurogym_numbers(table)})
        out["per_condition"] = rows or [_neurogym_numbers(table)]
        return out

    def selectivity(self, action: str) -> np.ndarray:
        periods = self.epochs
        epoch = periods[-2] if len(periods) >= 2 else None
        return choice_dprime(self.activity, action, epoch, 0, chosen_column="choice", decided="responded")


class GatedEpisodes(Target):
    """Song et al.'s gated network trained over episodes of trials (bandit, reversal, two-step):
    ``-n`` counts held-out episodes; the manipulation acts at every step (episodes have no
    epochs); the numbers are the task criterion's P(better option), the reward per trial and
    P(better) per block of 10 trials of the episode."""

    network = "decision"
    no_epochs = "episodes of trials have no epochs"

    def __init__(self, folder: RunFolder, seed: int):
        self.folder, self.seed = folder, seed
        learner = folder.learner
        self.task = learner.task
        self.policy = folder.best_params(seed)["policy"]
        self.masks = folder.learner_state(seed).policy_masks
        self.view, self.n_readout, self.existing = _gated_view(self.policy, self.masks, tuple(self.task.actions),
                                                               tuple(self.task.inputs), self.selectivity)
        self.tau_ms, self.dt_ms = float(learner.policy_config.tau_ms), float(learner.env.dt_ms)
        self.condition_variables = ("trials",)
        self.measures = (("p_better", "P(better option)", 100.0), ("reward", "reward per trial", 1.0))

    def behaviour(self, trials_per_condition: int, applied) -> pd.DataFrame:
        from rewardrnn.records import episodes as records
        return records.play(self.folder.learner, self.policy, self.masks, jax.random.PRNGKey(keys.EVALUATION_SEED),
                            trials_per_condition, applied).table

    def describe(self, table: pd.DataFrame) -> dict:
        from rewardrnn.tasks.episodes import block_performance, table_performance
        rows = block_performance(self.task, table)
        rows.append({"trials": "all", **table_performance(self.task, table, criterion_trials=False)})
        return {**table_performance(self.task, table), "n_episodes": int(table["episode"].nunique()),
                "p_choice": {a: float((table["choice"] == i).mean()) for i, a in enumerate(self.task.actions)},
                "per_condition": rows}

    def selectivity(self, action: str) -> np.ndarray:
        """Each unit's d′ between the trials on which ``action`` was chosen and the others, at
        the decision steps of the run's records."""
        from rewardrnn.records.activity import open_activity
        if self.activity is None:
            raise ConfigError("this group needs the run's records; record them first (`rewardrnn record RUN`)")
        task = self.task
        with open_activity(self.activity()) as ds:
            rates = ds["rates"].values[:, task.decision_step::task.steps_per_trial]  # (episode, trial, unit)
            chosen = ds["action_taken"].values[:, task.decision_step::task.steps_per_trial]
        index = list(task.actions).index(action)
        rates, chosen = rates.reshape(-1, rates.shape[-1]), chosen.ravel() == index
        from rewardrnn.analysis.neural import dprime
        return np.nan_to_num(dprime(rates[chosen], rates[~chosen]))


def _neurogym_numbers(table: pd.DataFrame) -> dict:
    """P(respond) (``p_decision``), P(correct | respond) and NeuroGym's mean performance."""
    responded = table["responded"].to_numpy(bool)
    correct = table["correct"].to_numpy(bool)
    return {"p_decision": float(responded.mean()), "p_correct": float(correct[responded].mean()) if responded.any()
            else float("nan"), "performance": float(table["performance"].mean()), "n": int(len(table))}


def _choice_shares(table: pd.DataFrame, actions) -> dict:
    """Each action's share of the last actions of the trials that responded (``0``: the trial
    responded, then was back at fixation at its last step)."""
    chosen = table.loc[table["responded"].to_numpy(bool), "choice"].astype(str)
    return {a: float((chosen == a).mean()) if len(chosen) else 0.0 for a in actions}


# ---- Miconi's tasks ----------------------------------------------------------------------------
class RateMiconi(Target):
    """Miconi's rate network on his tasks (module docstring)."""

    network = "rate (Miconi's rule)"
    no_readout = "Miconi's rate network has no readout weights: its output is a unit (silence it, or cut FROM->TO)"

    def __init__(self, folder: RunFolder, seed: int):
        self.folder, self.seed = folder, seed
        learner = folder.learner
        task, net = learner.task, learner.network
        self.params = folder.best_params(seed)
        j, w_in = np.asarray(self.params["J"]), np.asarray(self.params["W_in"])
        signs = None
        if net.kind == "ei":
            signs = np.where(np.arange(net.n_units) < net.n_units // 2, 1, -1)
        self.view = groups.NetworkView(n_units=net.n_units, actions=(), inputs=tuple(f"input {i}" for i in
                                                                                     range(task.n_inputs)),
                                       readout=j[net.output_unit][:, None], dale_signs=signs)
        self.n_readout = 0
        self.existing = {"recurrent": j.T != 0, "input": w_in.T != 0, "readout": np.zeros((net.n_units, 0), bool)}
        self.epochs = self.flag_names = task.epoch_names
        self.tau_ms, self.dt_ms = float(net.tau_ms), float(learner.config.dt_ms)
        self.condition_variables = ("trial_type",) if task.name != "selective-integration" else ("context",)
        self.measures = (("p_correct", f"P(error < {task.error_threshold:g})", 100.0),
                         ("p_sign_correct", "P(output's sign = target's)", 100.0), ("mean_error", "mean error", 1.0))

    def behaviour(self, trials_per_condition: int, applied) -> pd.DataFrame:
        from rewardrnn.records import perturbation
        return perturbation.record(self.folder.learner, self.params, jax.random.PRNGKey(keys.EVALUATION_SEED),
                                   trials_per_condition, None, manipulation=applied)

    def describe(self, table: pd.DataFrame) -> dict:
        def numbers(t):
            sign_right = np.sign(t["response_output"]) == np.sign(t["target"])
            return {"p_correct": float(t["correct"].mean()), "p_sign_correct": float(sign_right.mean()),
                    "mean_error": float(t["error"].mean()), "n": int(len(t))}

        column = self.condition_variables[0]
        rows = [{column: json_scalar(v), **numbers(part)} for v, part in table.groupby(column)]
        rows.append({column: "all", **numbers(table)})
        return {**numbers(table), "n_trials": int(len(table)), "per_condition": rows}


# ---- selectivity from records ------------------------------------------------------------------
def choice_dprime(activity, action: str, epoch: str | None, fixate, *,
                  chosen_column: str = "choice", decided: str = "decision") -> np.ndarray:
    """Each unit's d′ between decided trials that chose ``action`` and those that chose another,
    over ``epoch`` (the one before the response epoch, the stimulus in Song's tasks; the whole
    trial when None), from the run's records at ``activity()``."""
    from rewardrnn.analysis import neural

    with _records(activity) as ds:
        table = neural.trial_table(ds)
        done = table[decided].to_numpy(bool)
        chose = (table[chosen_column].astype(str) == str(action)).to_numpy()
        if not (done & chose).any() or not (done & ~chose).any():
            raise ConfigError(f"unit group dprime:{action}:K: the records have no decided trials "
                              f"{'choosing' if not (done & chose).any() else 'not choosing'} {action}")
        d = neural.choice_selectivity(ds.assign_coords(chose=("trial", chose)), label="chose", epoch=epoch,
                                      where=done)
        return np.asarray(d.values, float)


@contextlib.contextmanager
def _records(activity):
    """The activity dataset at ``activity()`` (the face records it first if missing)."""
    from rewardrnn.records.activity import open_activity

    if activity is None:
        raise ConfigError("this unit group needs the run's activity records, and none were given")
    ds = open_activity(activity())
    try:
        yield ds
    finally:
        ds.close()
