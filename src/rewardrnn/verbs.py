"""The verbs on run folders: evaluate, plot, record, analyze — for every kind of run.

Each kind of run (:data:`rewardrnn.training.kinds.KINDS`) has one adapter here that says how its
trained network is simulated (records) and analysed; :func:`adapter` picks it from the run
folder. The command line, the Python API and the report call these functions.

Layout under a run folder::

    RUN/evaluation/trials_seed{S}.csv      behaviour table of `evaluate` (…_dt{dt}.csv at another dt)
    RUN/evaluation/summary_seed{S}.json    its performance numbers
    RUN/figures/                           learning (or error) curves, psychometric curve
    RUN/records/seed{S}/trials.csv         behaviour table of the recorded trials (or .parquet)
    RUN/records/seed{S}/activity.nc        activity dataset (xarray / NetCDF)
    RUN/analysis/seed{S}/*.png, *.svg      figures
    RUN/analysis/seed{S}/numbers.json      the numbers, with the paper's values where it gives them

Song tasks' behavioural analyses use a separate, larger behaviour-only run (``evaluate``), since
they need many trials and no activity. Every file is written under a temporary name and renamed.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import jax
import numpy as np
import pandas as pd

from rewardrnn import keys, safe_files
from rewardrnn.analysis import generic_suite, miconi_suite, song_suite
from rewardrnn.analysis.behaviour import (fit_psychometric, performance_by_condition, psychometric_points,
                                          table_performance)
from rewardrnn.errors import ConfigError, RunFolderError
from rewardrnn.records import ACTIVITY
from rewardrnn.training import run_folder
from rewardrnn.training.run_folder import RunFolder

#: Trials per condition of pyrl's analysis runs (spec §6.1): (behaviour, activity). The economic
#: task records 100 per condition rather than 500 (its 20 conditions x 500 trials of 350 steps
#: would take longer to record than to train); Miconi's decoding used 20 per condition.
PAPER_TRIALS_PER_CONDITION = {"rdm-fixed": (5000, 50), "rdm-rt": (2500, 50), "mante": (1000, 100),
                              "multisensory": (1500, 100), "romo": (100, 50), "wager": (2500, 100),
                              "economic": (500, 100)}
MICONI_TRIALS_PER_CONDITION = {"selective-integration": 2}
MICONI_DEFAULT_TRIALS = 20
#: NeuroGym runs: trials per action (the environments draw their conditions themselves).
NEUROGYM_TRIALS_PER_ACTION = (500, 50)
#: Runs over episodes of trials: held-out episodes (behaviour, activity); -n counts episodes.
EPISODES = (500, 200)


def _positive_int(value, flag: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{flag} must be an integer >= 1, got {value!r}")
    return int(value)


# ---- one adapter per kind of run ---------------------------------------------------------------
class NativeActorCritic:
    """The actor-critic on Song et al.'s tasks."""

    def default_trials(self, folder: RunFolder, activity: bool) -> int:
        return PAPER_TRIALS_PER_CONDITION.get(folder.task, (1000, 50))[1 if activity else 0]

    def learner_at(self, folder: RunFolder, dt_ms: float | None):
        """The learner, rebuilt at another time step when ``dt_ms`` is given (alpha, noise scale
        and trial length follow, as pyrl's ``--dt``, spec §4.7)."""
        if dt_ms is None or dt_ms == folder.resolved.dt_ms:
            return folder.learner
        return dataclasses.replace(folder.resolved, dt_ms=dt_ms).build_learner()  # validates dt against the task

    def behaviour(self, folder: RunFolder, n: int, seed: int | None, dt_ms: float | None) -> pd.DataFrame:
        from rewardrnn.records.behaviour import behaviour_table
        params = folder.best_params(seed)
        masks = folder.learner_state(seed).policy_masks
        learner = self.learner_at(folder, dt_ms)
        return behaviour_table(learner, params["policy"], masks, jax.random.PRNGKey(keys.EVALUATION_SEED), n)

    def record(self, folder: RunFolder, n: int, seed: int | None, path: Path) -> pd.DataFrame:
        from rewardrnn.records import activity
        params, state = folder.best_params(seed), folder.learner_state(seed)
        # the value network of the last checkpoint, as the records of earlier versions
        return activity.record(folder.learner, (params["policy"], state.policy_masks, state.value, state.value_masks),
                               jax.random.PRNGKey(keys.RECORD_SEED), n, path)

    def performance(self, folder: RunFolder, table: pd.DataFrame) -> dict[str, float]:
        return table_performance(folder.learner.env.protocol, table)

    def by_condition(self, folder: RunFolder, table: pd.DataFrame) -> pd.DataFrame:
        return performance_by_condition(table, list(folder.learner.env.protocol.conditions))

    def analyze(self, folder: RunFolder, seed: int, behaviour_trials: int | None, ds) -> song_suite.Analysis:
        table = _behaviour_table(folder, seed, behaviour_trials or self.default_trials(folder, False))
        return song_suite.analyze(folder.learner.env.protocol, table, ds)

    def learning_figure(self, folder: RunFolder):
        from rewardrnn.figures.learning import learning_curve
        metrics = _metrics(folder)
        return None if metrics is None else learning_curve(metrics, folder.learner.env.protocol.criterion.min_p_correct)

    def dynamics(self, folder: RunFolder, seed: int | None, channels: list[str]):
        return _gated_dynamics(folder, seed, channels)

    def protocol(self, folder: RunFolder):
        return folder.learner.env.protocol

    def extra_figures(self, folder: RunFolder, seed: int | None, save) -> None:
        from rewardrnn.figures.psychometric import psychometric_curve
        protocol = folder.learner.env.protocol
        if protocol.psychometric is None:
            return
        _, s = folder.seed_index(seed)
        path = folder.derived_path("evaluation", f"trials_seed{s}.csv")
        table = _read_table(path) if path.is_file() else evaluate(folder.path, seed=s)
        spec = protocol.psychometric
        points = psychometric_points(table, spec.signed_stimulus, spec.positive_action, spec.among)
        try:
            fit = fit_psychometric(points["stimulus"], points["n_positive"], points["n_decision"])
        except ValueError as error:  # e.g. an untrained network that never decides: no curve to draw
            run_folder.write_json(folder.derived_folder("figures") / f"psychometric_seed{s}.json", {"skipped": str(error)})
            return
        run_folder.write_json(folder.derived_folder("figures") / f"psychometric_seed{s}.json",
                              {"mu": fit.mu, "sigma": fit.sigma, "mu_se": fit.mu_se, "sigma_se": fit.sigma_se,
                               "n_trials": fit.n_trials, "points": json.loads(points.to_json(orient="records"))})
        save(psychometric_curve(points, fit, spec.label, f"P({spec.positive_action}) (%)"), f"psychometric_seed{s}")


class Perturbation:
    """Miconi's rule on his tasks."""

    def default_trials(self, folder: RunFolder, activity: bool) -> int:
        return MICONI_TRIALS_PER_CONDITION.get(folder.task, MICONI_DEFAULT_TRIALS)

    def behaviour(self, folder: RunFolder, n: int, seed: int | None, dt_ms: float | None) -> pd.DataFrame:
        from rewardrnn.records import perturbation
        if dt_ms is not None:
            raise ConfigError("--dt does not apply to a run of the perturbation rule (Miconi's networks run at 1 ms)")
        return perturbation.record(folder.learner, folder.best_params(seed), jax.random.PRNGKey(keys.EVALUATION_SEED),
                                   n, None)

    def record(self, folder: RunFolder, n: int, seed: int | None, path: Path) -> pd.DataFrame:
        from rewardrnn.records import perturbation
        return perturbation.record(folder.learner, folder.best_params(seed), jax.random.PRNGKey(keys.RECORD_SEED),
                                   n, path)

    def performance(self, folder: RunFolder, table: pd.DataFrame) -> dict[str, float]:
        return {"mean_error": float(table["error"].mean()), "p_correct": float(table["correct"].mean())}

    def by_condition(self, folder: RunFolder, table: pd.DataFrame) -> pd.DataFrame:
        column = "trial_type" if "trial_type" in table else "context"
        return table.groupby(column).agg(n=("error", "size"), mean_error=("error", "mean"),
                                         p_correct=("correct", "mean")).reset_index()

    def analyze(self, folder: RunFolder, seed: int, behaviour_trials: int | None, ds) -> song_suite.Analysis:
        return miconi_suite.analyze(folder.task, ds)

    def learning_figure(self, folder: RunFolder):
        from rewardrnn.figures.learning import error_curves
        trace = folder.trace()
        return error_curves(trace, folder.learner.task.error_threshold) if trace.shape[1] else None

    def extra_figures(self, folder: RunFolder, seed: int | None, save) -> None:
        return None

    def dynamics(self, folder: RunFolder, seed: int | None, channels: list[str]):
        """Miconi's rate network with its kicks and clamps (the clamps stay: F sets the bias
        units), at the training time step."""
        from rewardrnn.analysis.fixedpoints import Dynamics
        from rewardrnn.networks import rate
        learner = folder.learner
        net, params, a = learner.network, folder.best_params(seed), learner.a
        return Dynamics(step=lambda x, u: rate.step(params, net, x, u, 0.0, a),
                        rates=lambda x: rate.rates(x, net),
                        states_from_rates=lambda r: np.asarray(rate.states_from_rates(r, net)),
                        dt_ms=float(learner.config.dt_ms), inputs=tuple(channels), name=f"rate ({net.kind})")

    def protocol(self, folder: RunFolder):
        return None


class NativePerturbation(NativeActorCritic):
    """Miconi's rule acting in Song et al.'s tasks: the native tasks' tables, figures and
    analyses; the rate network simulated by :mod:`rewardrnn.records.perturbation_native`."""

    def behaviour(self, folder: RunFolder, n: int, seed: int | None, dt_ms: float | None) -> pd.DataFrame:
        from rewardrnn.records import perturbation_native
        if dt_ms is not None and dt_ms != folder.resolved.dt_ms:
            raise ConfigError("--dt does not apply here: the rate network acts at its training time step "
                              f"({folder.resolved.dt_ms:g} ms); retrain with --dt")
        state = folder.learner_state(seed)._replace(params=folder.best_params(seed))
        return perturbation_native.record(folder.learner, state, jax.random.PRNGKey(keys.EVALUATION_SEED), n, None)

    def record(self, folder: RunFolder, n: int, seed: int | None, path: Path) -> pd.DataFrame:
        from rewardrnn.records import perturbation_native
        state = folder.learner_state(seed)._replace(params=folder.best_params(seed))
        return perturbation_native.record(folder.learner, state, jax.random.PRNGKey(keys.RECORD_SEED), n, path)

    def dynamics(self, folder: RunFolder, seed: int | None, channels: list[str]):
        return Perturbation().dynamics(folder, seed, channels)


class _GatedWithoutProtocol:
    """What the gated network's families without a protocol (NeuroGym, episodes) share: no
    extra figures, the decision network's dynamics, no protocol for the fixed points' inputs."""

    def extra_figures(self, folder: RunFolder, seed: int | None, save) -> None:
        return None

    def dynamics(self, folder: RunFolder, seed: int | None, channels: list[str]):
        return _gated_dynamics(folder, seed, channels)

    def protocol(self, folder: RunFolder):
        return None


class NeuroGymActorCritic(_GatedWithoutProtocol):
    """The actor-critic on NeuroGym environments (performance from NeuroGym's trial info)."""

    def default_trials(self, folder: RunFolder, activity: bool) -> int:
        return NEUROGYM_TRIALS_PER_ACTION[1 if activity else 0]

    def _n_trials(self, folder: RunFolder, n: int) -> int:
        return n * folder.learner.env.n_actions

    def behaviour(self, folder: RunFolder, n: int, seed: int | None, dt_ms: float | None) -> pd.DataFrame:
        from rewardrnn.records import neurogym
        if dt_ms is not None:
            raise ConfigError("--dt does not apply to a NeuroGym run (its dt is the environment's: retrain with --dt)")
        _, s = folder.seed_index(seed)
        return neurogym.record(folder.learner, folder.best_params(seed)["policy"], folder.learner_state(seed).policy_masks,
                               s, self._n_trials(folder, n), None, keys.ENV_EVALUATION)

    def record(self, folder: RunFolder, n: int, seed: int | None, path: Path) -> pd.DataFrame:
        from rewardrnn.records import neurogym
        _, s = folder.seed_index(seed)
        return neurogym.record(folder.learner, folder.best_params(seed)["policy"], folder.learner_state(seed).policy_masks,
                               s, self._n_trials(folder, n), path, keys.ENV_RECORD)

    def performance(self, folder: RunFolder, table: pd.DataFrame) -> dict[str, float]:
        return {"performance": float(table["performance"].mean()), "p_respond": float(table["responded"].mean()),
                "reward": float(table["reward"].mean())}

    def by_condition(self, folder: RunFolder, table: pd.DataFrame) -> pd.DataFrame:
        column = generic_suite.condition_column(table)
        if column is None:
            return pd.DataFrame([self.performance(folder, table)])
        return table.groupby(column).agg(n=("performance", "size"), performance=("performance", "mean"),
                                         p_respond=("responded", "mean")).reset_index()

    def analyze(self, folder: RunFolder, seed: int, behaviour_trials: int | None, ds) -> song_suite.Analysis:
        from rewardrnn.analysis.neural import trial_table
        return generic_suite.analyze(trial_table(ds), ds)

    def learning_figure(self, folder: RunFolder):
        from rewardrnn.figures.learning import learning_curve
        metrics = _metrics(folder)
        return None if metrics is None else learning_curve(metrics, folder.resolved.target, "performance",
                                                           "NeuroGym performance (%)")


class EpisodesActorCritic(_GatedWithoutProtocol):
    """The actor-critic over episodes of trials (bandit, reversal, two-step): the counts of
    trials (``-n``, ``--trials-per-condition``, ``--behaviour-trials``) are of *episodes*; a
    record row is an episode (:mod:`rewardrnn.records.episodes`)."""

    def default_trials(self, folder: RunFolder, activity: bool) -> int:
        return EPISODES[1 if activity else 0]

    def _play(self, folder: RunFolder, n: int, seed: int | None, key: int, path: Path | None = None):
        from rewardrnn.records import episodes as records
        return records.record(folder.learner, folder.best_params(seed)["policy"],
                              folder.learner_state(seed).policy_masks, jax.random.PRNGKey(key), n, path)

    def behaviour(self, folder: RunFolder, n: int, seed: int | None, dt_ms: float | None) -> pd.DataFrame:
        if dt_ms is not None:
            raise ConfigError("--dt does not apply to a run over episodes (one network step per step of a trial)")
        return self._play(folder, n, seed, keys.EVALUATION_SEED).table

    def record(self, folder: RunFolder, n: int, seed: int | None, path: Path) -> pd.DataFrame:
        return self._play(folder, n, seed, keys.RECORD_SEED, path).table

    def performance(self, folder: RunFolder, table: pd.DataFrame) -> dict[str, float]:
        from rewardrnn.tasks.episodes import table_performance
        return table_performance(folder.learner.task, table)

    def by_condition(self, folder: RunFolder, table: pd.DataFrame) -> pd.DataFrame:
        """P(better option) and reward per block of 10 trials of the episode."""
        from rewardrnn.tasks.episodes import block_performance
        rows = pd.DataFrame(block_performance(folder.learner.task, table))
        return rows.rename(columns={"trials_counted": "n"})[["trials", "n", "p_better", "reward"]]

    def analyze(self, folder: RunFolder, seed: int, behaviour_trials: int | None, ds) -> song_suite.Analysis:
        from rewardrnn.analysis import episodes_suite
        played = self._play(folder, behaviour_trials or self.default_trials(folder, False), seed, keys.EVALUATION_SEED)
        return episodes_suite.analyze(folder.task, played.table, played.decision_states, played.performance)

    def learning_figure(self, folder: RunFolder):
        from rewardrnn.figures.learning import learning_curve
        metrics = _metrics(folder)
        return None if metrics is None else learning_curve(metrics, folder.learner.task.criterion.min_p_better,
                                                           "p_better", "better option chosen (%)")


def _gated_dynamics(folder: RunFolder, seed: int | None, channels: list[str]):
    """The decision network of an actor-critic run (Song et al.'s gated unit), noise off."""
    core = getattr(folder.learner, "core", folder.learner)  # NeuroGym's host-stepped learner wraps the core
    return gated_dynamics(folder.best_params(seed)["policy"], folder.learner_state(seed).policy_masks, core.alpha,
                          core.policy_config.tau_ms, channels, "gated (Song et al.)")


def gated_dynamics(params, masks, alpha: float, tau_ms: float, channels, name: str):
    """:class:`~rewardrnn.analysis.fixedpoints.Dynamics` of a gated network (decision or value), noise off."""
    from rewardrnn.analysis.fixedpoints import Dynamics
    from rewardrnn.networks import gru
    step = gru.stepper(params, masks, alpha)
    return Dynamics(step=lambda x, u: step(x, u, 0.0), rates=jax.nn.relu, states_from_rates=gru.states_from_rates,
                    dt_ms=float(alpha * tau_ms), inputs=tuple(channels), name=name)


#: The adapter of each family of trained network (:attr:`rewardrnn.training.kinds.RunKind.family`):
#: every learner of a family (the actor-critic and the supervised learner on Song's tasks, ...)
#: is simulated, recorded and analysed the same way.
ADAPTERS = {"gated/native": NativeActorCritic(), "rate/miconi": Perturbation(), "rate/native": NativePerturbation(),
            "gated/neurogym": NeuroGymActorCritic(), "gated/episodes": EpisodesActorCritic()}


def adapter(folder: RunFolder):
    return ADAPTERS[folder.kind.family]


def _metrics(folder: RunFolder) -> pd.DataFrame | None:
    path = folder.derived_path(run_folder.METRICS)
    return pd.read_csv(path) if path.is_file() else None


def _read_table(path: Path) -> pd.DataFrame:
    table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    if "choice" in table and table["choice"].dtype == object:
        table["choice"] = table["choice"].fillna("")
    return table


# ---- the verbs ---------------------------------------------------------------------------------
def evaluate(run: str | Path, trials_per_condition: int = 200, seed: int | None = None,
             dt_ms: float | None = None) -> pd.DataFrame:
    """Run the best parameters of ``seed`` (default: the run's first) over the task's conditions
    and write ``RUN/evaluation/trials_seed{S}.csv`` (one row per trial; ``…_dt{dt}.csv`` at
    another time step) and ``summary_seed{S}.json``. Returns the behaviour table."""
    n = _positive_int(trials_per_condition, "--trials-per-condition")
    if dt_ms is not None and (isinstance(dt_ms, bool) or not (isinstance(dt_ms, (int, float)) and np.isfinite(dt_ms)
                                                              and dt_ms > 0)):
        raise ConfigError(f"--dt must be a positive number of ms, got {dt_ms!r}")
    folder = RunFolder(run)
    _, s = folder.seed_index(seed)
    with run_folder.locked(folder.path):
        ad = adapter(folder)
        table = ad.behaviour(folder, n, seed, dt_ms)
        out = folder.derived_folder("evaluation")
        suffix = "" if dt_ms is None or dt_ms == getattr(folder.resolved, "dt_ms", None) else f"_dt{dt_ms:g}"
        write_table(table, out / f"trials_seed{s}{suffix}.csv")
        summary = {"seed": s, "run_id": folder.identity["run_id"], "trials": len(table),
                   **({"dt_ms": dt_ms or folder.resolved.dt_ms} if hasattr(folder.resolved, "dt_ms") else {}),
                   **ad.performance(folder, table), "best_update": folder.best_update(seed)}
        run_folder.write_json(out / f"summary_seed{s}{suffix}.json", summary)
    return table


def evaluation_report(run: str | Path, table: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, float]]:
    """(performance per condition, overall performance numbers) of a table from :func:`evaluate`."""
    folder = RunFolder(run)
    ad = adapter(folder)
    return ad.by_condition(folder, table), ad.performance(folder, table)


def plot(run: str | Path, seed: int | None = None) -> list[Path]:
    """Write the learning curve (all seeds; Miconi's runs: error curves) and, where the task has
    one, the psychometric curve of ``seed`` as PNG and SVG under ``RUN/figures/``; evaluates first
    if needed. Returns the written paths."""
    folder = RunFolder(run)
    folder.seed_index(seed)
    ad = adapter(folder)
    written: list[Path] = []
    with run_folder.locked(folder.path):
        figures = folder.derived_folder("figures")

        def save(fig, name):
            written.extend(safe_files.save_figure(fig, figures, name, dpi=150))

        learning = ad.learning_figure(folder)
        if learning is None:
            raise RunFolderError(f"{folder.path} has no training history yet; train it first")
        save(learning, "error_curve" if folder.kind.family == "rate/miconi" else "learning_curve")
        ad.extra_figures(folder, seed, save)
    return written


def records_dir(run: Path, seed: int) -> Path:
    """``RUN/records/seed{S}`` (refused, one line, if any part of it is a link)."""
    return safe_files.inside(run, "records", f"seed{seed}")


def record(run: str | Path, trials_per_condition: int | None = None, seed: int | None = None,
           table_format: str = "csv") -> tuple[pd.DataFrame, Path]:
    """Run the trained network of ``seed`` over the task's conditions and write
    ``records/seed{S}/trials.<fmt>`` and ``activity.nc``. Returns (behaviour table, dataset path)."""
    if table_format not in ("csv", "parquet"):
        raise ConfigError(f"--table-format must be csv or parquet, got {table_format!r}")
    folder = RunFolder(run)
    ad = adapter(folder)
    n = ad.default_trials(folder, True) if trials_per_condition is None else \
        _positive_int(trials_per_condition, "--trials-per-condition")
    _, s = folder.seed_index(seed)
    with run_folder.locked(folder.path):
        out = folder.derived_folder("records", f"seed{s}")
        table = ad.record(folder, n, seed, out / ACTIVITY)
        write_table(table, out / f"trials.{table_format}")
        run_folder.write_json(out / "identity.json", {"run_id": folder.identity["run_id"], "seed": s,
                                                       "trials_per_condition": n})
    return table, out / ACTIVITY


def write_table(table: pd.DataFrame, path: Path) -> None:
    """CSV or Parquet (by suffix), written to a fresh temporary name first (:mod:`rewardrnn.safe_files`)."""
    with safe_files.atomic_path(path) as tmp:
        if path.suffix == ".parquet":
            try:
                table.to_parquet(tmp, index=False)
            except ImportError as error:
                raise ConfigError(f"Parquet needs pyarrow ({error}); `pip install pyarrow` or use csv") from None
        else:
            table.to_csv(tmp, index=False)


def current_records(folder: RunFolder, seed: int) -> bool:
    """Whether the records of ``seed`` exist and come from this run (not from a replaced one)."""
    out = records_dir(folder.path, seed)
    identity = out / "identity.json"
    if not (out / ACTIVITY).is_file() or not identity.is_file():
        return False
    try:
        return json.loads(identity.read_text()).get("run_id") == folder.identity["run_id"]
    except (OSError, json.JSONDecodeError):
        return False


def analyze(run: str | Path, seed: int | None = None, behaviour_trials: int | None = None,
            n_splits: int = 100) -> tuple[song_suite.Analysis, Path]:
    """Every analysis that fits the run's task, on its records (made with the defaults first if
    missing or from another run); figures (PNG and SVG) and ``numbers.json`` under
    ``RUN/analysis/seed{S}/``. ``behaviour_trials``: trials per condition of the Song tasks'
    behaviour table (default: the paper's, spec §6.1)."""
    if behaviour_trials is not None:
        _positive_int(behaviour_trials, "--behaviour-trials")
    folder = RunFolder(run)
    _, s = folder.seed_index(seed)
    ad = adapter(folder)
    started = time.perf_counter()
    with run_folder.locked(folder.path):
        if not current_records(folder, s):
            record(run, seed=s)
        from rewardrnn.records.activity import open_activity
        ds = open_activity(safe_files.inside(records_dir(folder.path, s), ACTIVITY))
        try:
            result = ad.analyze(folder, s, behaviour_trials, ds)
        finally:
            ds.close()
        out = folder.derived_folder("analysis", f"seed{s}")
        fp_started = time.perf_counter()
        fp_summary, fp_figures, fp_dataset = _find_fixed_points(folder, s, None, ANALYZE_FIXED_POINT_CANDIDATES,
                                                                0.0, None)
        _write_fixed_points(folder, s, out, fp_summary, fp_dataset, fp_started)
        result.figures.update(fp_figures)
        result.numbers["fixed_points"] = {k: fp_summary[k] for k in ("candidates", "points", "tiers",
                                                                      "by_stability", "wall_s")}
        _save_figures(result.figures, out)
        result.numbers["analysis_wall_s"] = round(time.perf_counter() - started, 2)
        from rewardrnn.analysis.units import describe
        run_folder.write_json(out / "numbers.json", {"task": folder.task, "seed": s,
                                                     "run_id": folder.identity["run_id"], "numbers": result.numbers,
                                                     "units": describe(result.numbers),
                                                     "paper": result.paper, "figures": list(result.figures),
                                                     "warnings": result.warnings})
    return result, out


#: The networks ``fixedpoints`` searches (``--network``) and the stem of each one's files.
NETWORKS = ("decision", "value")
FIXED_POINTS_STEMS = {"decision": "fixedpoints", "value": "fixedpoints_value"}
#: Candidates of the fixed-point search that ``analyze`` runs (``rewardrnn fixedpoints``: 4,096).
ANALYZE_FIXED_POINT_CANDIDATES = 1024


def fixedpoints(run: str | Path, seed: int | None = None, inputs: list[str] | None = None, candidates: int = 4096,
                noise: float = 0.0, options=None, fixed_q: float | None = None,
                slow_q: float | None = None, network: str = "decision") -> tuple[dict, Path]:
    """Fixed and slow points of the trained network of ``seed`` (:mod:`rewardrnn.analysis.fixedpoints`),
    from ``candidates`` states of its records under the input conditions ``inputs``
    (:mod:`rewardrnn.analysis.fixedpoint_inputs`; default: every epoch of the task, or the
    recorded inputs). Writes ``RUN/analysis/seed{S}/fixedpoints.nc``, ``fixedpoints.json`` and
    the figures ``fixedpoints_pca``, ``fixedpoints_spectra`` and ``fixedpoints_selection`` (PNG,
    SVG); returns (summary, dataset path). The records of this seed are made first (with the
    defaults, as ``rewardrnn record``) when missing. ``fixed_q`` / ``slow_q``: the speed tiers of
    the summary (:func:`rewardrnn.analysis.fixedpoints.summary`). ``network="value"``: the
    value network's points instead (:func:`_value_fixed_points`), written as
    ``fixedpoints_value.nc`` / ``.json`` and ``fixedpoints_value_*`` figures."""
    from rewardrnn.analysis import fixedpoints as fp
    if network not in NETWORKS:
        raise ConfigError(f"--network {network!r}: allowed {', '.join(NETWORKS)}")
    tiers = (fp.FIXED_Q if fixed_q is None else fixed_q, fp.SLOW_Q if slow_q is None else slow_q)
    for name, value in zip(("--fixed-q", "--slow-q"), tiers):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (np.isfinite(value) and value > 0):
            raise ConfigError(f"{name} must be a positive speed (squared state units per step), got {value!r}")
    if tiers[0] > tiers[1]:
        raise ConfigError(f"--fixed-q {tiers[0]:g} must not exceed --slow-q {tiers[1]:g}")
    folder = RunFolder(run)
    _, s = folder.seed_index(seed)
    with run_folder.locked(folder.path):
        if not current_records(folder, s):
            record(run, seed=s)
        started = time.perf_counter()
        if network == "value":
            summary, figures, dataset = _value_fixed_points(folder, s, inputs, candidates, noise, options, tiers)
        else:
            summary, figures, dataset = _find_fixed_points(folder, s, inputs, candidates, noise, options, tiers)
        out = folder.derived_folder("analysis", f"seed{s}")
        _save_figures(figures, out)
        stem = FIXED_POINTS_STEMS[network]
        _write_fixed_points(folder, s, out, summary, dataset, started, stem)
    return summary, out / f"{stem}.nc"


def _write_fixed_points(folder: RunFolder, seed: int, out: Path, summary: dict, dataset, started: float,
                        stem: str = "fixedpoints") -> None:
    from rewardrnn.records import write_dataset
    dataset.attrs.update({"run_id": folder.identity["run_id"], "seed": seed})
    write_dataset(dataset, out / f"{stem}.nc")
    summary["wall_s"] = round(time.perf_counter() - started, 2)
    run_folder.write_json(out / f"{stem}.json", {"task": folder.task, "seed": seed,
                                                 "run_id": folder.identity["run_id"], **summary})


def _find_fixed_points(folder: RunFolder, seed: int, inputs, candidates: int, noise: float, options,
                       tiers: tuple[float, float] | None = None):
    """(summary, figures, dataset) of the fixed-point search on the records of ``seed``."""
    from rewardrnn.analysis.population import pca
    from rewardrnn.figures import fixedpoints as fig
    summary, found, rates, trajectories = _decision_search(folder, seed, inputs, candidates, noise, options, tiers)
    axes = pca(rates, 2)
    slow_q = summary["tiers"]["slow_q"]
    figures = {"fixedpoints_pca": fig.pca_plane(found, trajectories, axes.mean, axes.components.T, slow_q,
                                                title=f"{folder.task}: fixed and slow points"),
               "fixedpoints_spectra": fig.spectra(found, slow_q),
               "fixedpoints_selection": fig.selection_vectors(summary)}
    return summary, figures, found


def _decision_search(folder: RunFolder, seed: int, inputs, candidates: int, noise: float, options,
                     tiers: tuple[float, float] | None = None):
    """(summary, dataset, recorded rates (S, N), recorded trajectories) of the decision network's
    search on the records of ``seed``, without figures."""
    from rewardrnn.analysis import fixedpoint_inputs as fpi
    from rewardrnn.analysis import fixedpoints as fp
    from rewardrnn.records.activity import open_activity
    ad = adapter(folder)
    with open_activity(safe_files.inside(records_dir(folder.path, seed), ACTIVITY)) as ds:
        channels = [str(c) for c in ds["input"].values]
        rates, recorded_inputs, trajectories = fpi.recorded_steps(ds, keys.FIXED_POINT_SEED)
    protocol = ad.protocol(folder)
    conditions = fpi.resolve(list(inputs) if inputs else fpi.default_specs(protocol), channels, protocol,
                             recorded_inputs)
    dynamics = ad.dynamics(folder, seed, channels)
    states, u, condition = fpi.candidates(rates, recorded_inputs, conditions, candidates,
                                          dynamics.states_from_rates, noise, keys.FIXED_POINT_SEED)
    found = fp.find(dynamics, states, u, condition, conditions.labels, options or fp.FinderOptions())
    return fp.summary(found, *(tiers or (fp.FIXED_Q, fp.SLOW_Q))), found, rates, trajectories


def _value_fixed_points(folder: RunFolder, seed: int, inputs, candidates: int, noise: float, options,
                        tiers: tuple[float, float]):
    """(summary, figures, dataset) of the *value* network's fixed and slow points (Song et al.'s
    gated value network, noise off). It reads the decision network's rates and the last action
    and does not feed back, so the pair's dynamics are block-triangular: a fixed point of the
    pair is a fixed point of the decision network together with a fixed point of the value
    network driven by those rates, and the value network's modes are those of its own Jacobian.
    Per input condition, the value network's input is held at the rates of the decision
    network's slowest point in that condition (searched first, as ``fixedpoints``) and the
    action FIXATE; its candidates are recorded value-network states. The summary adds, per
    condition, ``value_output``: the value network's prediction at its fixed and slow points
    (expected return, reward units; median)."""
    from rewardrnn.analysis import fixedpoint_inputs as fpi
    from rewardrnn.analysis import fixedpoints as fp
    from rewardrnn.analysis.population import pca
    from rewardrnn.figures import fixedpoints as fig
    from rewardrnn.networks import gru
    from rewardrnn.records.activity import open_activity
    if folder.kind.name not in ("actor-critic", "actor-critic/ngym"):
        raise ConfigError(f"--network value: {folder.path} is a {folder.kind.name} run; the value network is the "
                          f"actor-critic's")
    learner = getattr(folder.learner, "core", folder.learner)
    if learner.value_net is not gru:
        raise ConfigError(f"--network value: this run's baseline ({learner.config.baseline}"
                          f"{', linear' if learner.value_net is not None else ''}) has no recurrent value network")
    if inputs and "trajectory" in inputs:
        raise ConfigError("--network value: the trajectory condition is for the decision network only")
    decision, decision_points, _, _ = _decision_search(folder, seed, inputs, candidates, noise, options, tiers)
    labels = json.loads(decision_points.attrs["condition_labels"])
    q, rates = decision_points["q"].values, decision_points["rates"].values
    index = decision_points["condition_index"].values
    actions = tuple(learner.env.protocol.actions)
    fixate = np.eye(len(actions), dtype=np.float32)[learner.env.protocol.fixate_action]
    kept = [c for c in range(len(labels)) if (index == c).any()]
    if not kept:
        raise ConfigError(f"--network value: the decision network's search ended on no point ({decision['outliers']} "
                          f"of {decision['candidates']} candidates ran away), so nothing drives the value network")
    slowest = [np.flatnonzero(index == c)[np.argmin(q[index == c])] for c in kept]
    u_value = np.stack([np.concatenate([rates[i], fixate]).astype(np.float32) for i in slowest])
    with open_activity(safe_files.inside(records_dir(folder.path, seed), ACTIVITY)) as ds:
        value_rates, _, trajectories = fpi.recorded_steps(ds, keys.FIXED_POINT_SEED, variable="value_rates")
    conditions = fpi.InputConditions([labels[c] for c in kept], u_value)
    state = folder.learner_state(seed)
    channels = tuple(f"decision unit {i}" for i in range(rates.shape[1])) + tuple(f"action {a}" for a in actions)
    dynamics = gated_dynamics(state.value, state.value_masks, learner.value_alpha, learner.value_config.tau_ms,
                              channels, "gated value network (Song et al.)")
    states, u, condition = fpi.candidates(value_rates, np.zeros((len(value_rates), 0)), conditions, candidates,
                                          dynamics.states_from_rates, noise, keys.FIXED_POINT_SEED)
    # its points lie far outside the recorded states (a trial ends long before the value network
    # settles): kept, as every slow point is (fp.find's outlier rule), and measured below
    found = fp.find(dynamics, states, u, condition, conditions.labels, options or fp.FinderOptions())
    summary = fp.summary(found, *tiers)
    slow_q = summary["tiers"]["slow_q"]
    slow = found["q"].values < slow_q
    norms = np.linalg.norm(found["rates"].values[slow], axis=1)
    summary["distance_from_recorded"] = {
        "points_rate_norm_median": round(float(np.median(norms)), 4) if slow.any() else None,
        "recorded_rate_norm_median": round(float(np.median(np.linalg.norm(value_rates, axis=1))), 4)}
    summary["conventions"]["distance_from_recorded"] = (
        "median over the fixed and slow points of ||rates(x*)||, and the median ||rates|| of the recorded value-network "
        "states (dimensionless rates): how far the points lie from where trials take the network")
    value = np.asarray(gru.readout(state.value, jax.numpy.asarray(found["state"].values)))[:, 0]
    for label, entry in summary["conditions"].items():
        mine = slow & (found["condition"].values == label)
        entry["value_output"] = round(float(np.median(value[mine])), 6) if mine.any() else None
        entry["decision_network_input_q"] = float(q[slowest[conditions.labels.index(label)]])
    summary["conventions"]["value_output"] = ("the value network's prediction V at its points (expected return, "
                                              "reward units: +1 correct, 0 wrong, -1 abort); median")
    summary["conventions"]["input"] = ("per condition, the rates of the decision network's slowest point "
                                       "(decision_network_input_q: its speed) and the action FIXATE")
    summary["decision_network"] = {"points": decision["points"], "tiers": decision["tiers"]}
    axes = pca(value_rates, 2)
    figures = {"fixedpoints_value_pca": fig.pca_plane(found, trajectories, axes.mean, axes.components.T, slow_q,
                                                      title=f"{folder.task}: value network, fixed and slow points"),
               "fixedpoints_value_spectra": fig.spectra(found, slow_q)}
    return summary, figures, found


def _save_figures(figures: dict, out: Path) -> None:
    for name, figure in figures.items():
        safe_files.save_figure(figure, out, name, dpi=120)


def _behaviour_table(folder: RunFolder, seed: int, trials_per_condition: int) -> pd.DataFrame:
    """The evaluation table of ``seed`` if it is large enough and of this run, else a new one."""
    path = folder.derived_path("evaluation", f"trials_seed{seed}.csv")
    summary = folder.derived_path("evaluation", f"summary_seed{seed}.json")
    expected = trials_per_condition * folder.learner.env.n_conditions
    if path.is_file() and summary.is_file():
        try:
            same_run = json.loads(summary.read_text()).get("run_id") == folder.identity["run_id"]
        except (OSError, json.JSONDecodeError):
            same_run = False
        table = _read_table(path)
        if same_run and len(table) >= expected:
            return table
    return evaluate(folder.path, trials_per_condition=trials_per_condition, seed=seed)


def read_numbers(run: Path, seed: int) -> dict:
    path = safe_files.inside(run, "analysis", f"seed{seed}", "numbers.json")
    if not path.is_file():
        raise RunFolderError(f"{path} is missing; run `rewardrnn analyze {run}` first")
    return json.loads(path.read_text())
