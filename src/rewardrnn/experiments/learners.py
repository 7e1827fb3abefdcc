"""``rewardrnn experiment learners``: the same network family's task trained by each learning
rule on equal terms (Song et al. 2017 motivate reward-based training against "the graded error
signals commonly used to train networks through supervised learning"; beyond both papers).

Cells: every task given (Song et al.'s seven and ``dnms-choice``, the native DNMS, by default)
x every learner given: ``actor-critic`` (Song et al.'s, with its gated value network),
``supervised`` (BPTT, cross-entropy on the best action, read out greedily:
:mod:`rewardrnn.learners.supervised`) and ``perturbation`` (Miconi's rule, his rate network
acting in the task: :mod:`rewardrnn.learners.perturbation_native`), and, when asked for, ``local``
(a local eligibility rule with Song et al.'s value network, :mod:`rewardrnn.learners.local`) and
``local-rate`` (that rule on Miconi's rate network, :mod:`rewardrnn.learners.local_rate`). Each cell is a normal run
folder ``OUT/<task>/<learner>/`` training all its seeds together with the paper's stop criterion
(Song et al.'s, on validation trials in which the network acts), no stall restarts, and the same
**trial budget** per seed for every learner: ``trials`` rounded up to whole validation periods of
the task (the actor-critic's ``n_gradient x checkfreq`` trials; every learner validates after the
same training trials, so trials to criterion are counted on one grid).

Then, per cell: seeds at criterion, trials to criterion (median, IQR), wall seconds
(``results.csv``, ``seeds.csv``); and with ``dynamics``, for every seed at criterion, its trained
network's dynamics (``dynamics.csv``, one row per network; ``fixedpoints.csv``, one row per
network and input condition; ``spectra.csv``; ``similarity.csv``, one row per pair of networks):

* fixed and slow points per input condition (``rewardrnn fixedpoints``, ``candidates``
  candidates; tiers and conventions of :func:`rewardrnn.analysis.fixedpoints.summary`), their
  stability types, the fraction whose slowest non-trivial mode is a complex pair (a *rotation*
  about the point) and, of those, the ones with that mode within 0.01 of |lambda| = 1 (slow
  rotations: the signature of the quasi-periodic attractors Kononov et al. 2025 report under
  reinforcement learning);
* the slowest non-trivial time constant (ms; median over the input conditions of each
  condition's median over its fixed and slow points);
* the participation ratio of the recorded activity (number of dimensions;
  :func:`rewardrnn.analysis.similarity.participation_ratio`);
* a dynamical similarity between networks: the distance between the spectra of their DMD
  operators (:mod:`rewardrnn.analysis.similarity`, which says how it relates to DSA and why
  ``dsa-metric`` is not used), within a learner (pairs of seeds) and between learners.

The records each analysis reads are the run folder's own (``rewardrnn record`` with its
defaults), so every number here can be recomputed with the single-run verbs.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd

from rewardrnn.errors import ConfigError
from rewardrnn.experiments import cells
from rewardrnn.safe_files import save_figure
from rewardrnn.tasks.registry import TASKS
from rewardrnn.training import run_folder

#: The learners compared, in the table's order.
#: The cells' learners; ``local-rate`` is the local rule on Miconi's rate network
#: (``--learner local --network rate``), ``local`` the same rule on Song et al.'s gated network.
LEARNERS = ("actor-critic", "supervised", "perturbation", "local", "local-rate")
#: The experiment's name in its folder's marker.
EXPERIMENT = "learners"
#: Trial budget per seed when none is given (Miconi's rule's default on a native task).
DEFAULT_TRIALS = 50_000
#: Fixed-point candidates per network (``rewardrnn analyze``'s; ``rewardrnn fixedpoints``: 4,096).
DEFAULT_CANDIDATES = 1024
#: Trials per condition recorded from each network for its dynamics (``rewardrnn record``'s
#: default is the paper's, up to 100: 760 MB per mante network).
DEFAULT_RECORD_TRIALS = 10
#: Colours of the fixed points' stability types in the figures.
STABILITY_COLOURS = {"stable": "#4c72b0", "marginal": "#dd8452", "saddle": "#c44e52", "unstable": "#8172b3"}
#: A slowest non-trivial mode counts as a rotation when |Im lambda| exceeds this.
ROTATION_IMAG = 1e-6
CURVES_CAPTION = ("Fraction correct, P(decision) x P(correct | decision) on the validation trials, against training "
                  "trials: median (line) and IQR (band) across seeds; a seed that stopped at its criterion keeps its "
                  "last value.")
TTC_CAPTION = "Trials to criterion, one dot per seed; red dots did not reach it within the budget."
DYNAMICS_CAPTION = ("Each trained network (one dot per seed at criterion): participation ratio of its recorded activity "
                    "(dimensions), its slowest non-trivial time constant at its fixed and slow points (ms, log axis), "
                    "and the stability types of those points (share of points, mean over networks).")
SPECTRA_CAPTION = ("Eigenvalues of each network's DMD operator (10 principal components of its recorded activity, per "
                   "10-ms step), one colour per seed; the circle is |lambda| = 1 (a mode that neither decays nor grows).")
SIMILARITY_CAPTION = ("Dynamical similarity: median spectral distance between networks (mean |lambda - mu| of the matched "
                      "DMD eigenvalues, dimensionless; 0 = equal spectra). Diagonal: between seeds of one learner; off "
                      "the diagonal: between learners.")


@dataclasses.dataclass(frozen=True)
class LearnersExperiment:
    """What to run: tasks (Song et al.'s protocol tasks; ``dnms`` means ``dnms-choice``), learners,
    seeds ``first_seed .. first_seed + seeds - 1``, the trial budget per seed, and whether to
    compare the trained networks' dynamics (from ``record_trials`` recorded trials per condition
    and ``candidates`` fixed-point candidates per network)."""

    tasks: tuple[str, ...] = tuple(TASKS)
    learners: tuple[str, ...] = LEARNERS
    seeds: int = 10
    first_seed: int = 1
    trials: int = DEFAULT_TRIALS
    dynamics: bool = True
    candidates: int = DEFAULT_CANDIDATES
    record_trials: int = DEFAULT_RECORD_TRIALS

    def __post_init__(self) -> None:
        object.__setattr__(self, "tasks", tuple("dnms-choice" if t == "dnms" else t for t in self.tasks))
        for task in self.tasks:
            if task not in TASKS:
                raise ConfigError(f"--tasks: {task!r} is not one of the tasks every learner trains; choose among "
                                  f"{', '.join(TASKS)} (dnms: dnms-choice)")
        for learner in self.learners:
            if learner not in LEARNERS:
                raise ConfigError(f"--learners: {learner!r} is not a learner; choose among {', '.join(LEARNERS)}")
        if not isinstance(self.dynamics, bool):
            raise ConfigError(f"dynamics must be true or false, got {self.dynamics!r}")
        if not self.tasks or not self.learners:
            raise ConfigError("give at least one task and one learner")
        for name, values in (("--tasks", self.tasks), ("--learners", self.learners)):
            if len(set(values)) != len(values):
                raise ConfigError(f"{name}: each name once, got {', '.join(values)}")
        for flag, value, low in (("--seeds", self.seeds, 1), ("--seed", self.first_seed, 0),
                                 ("--trials", self.trials, 1), ("--candidates", self.candidates, 1),
                                 ("--record-trials", self.record_trials, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{flag} must be an integer >= {low}, got {value!r}")
        for _, _, config in self.cells():  # every cell's options checked before any work
            config.resolved()

    def period(self, task: str) -> int:
        """Training trials between two validations of ``task``, for every learner: the
        actor-critic's ``n_gradient x checkfreq``."""
        from rewardrnn.training.config import TrainConfig

        resolved = TrainConfig(task=task).resolved()
        return resolved.n_gradient * resolved.checkfreq

    def budget(self, task: str) -> int:
        """The trial budget per seed on ``task``: ``trials`` rounded up to whole validation periods."""
        period = self.period(task)
        return -(-self.trials // period) * period

    def cells(self) -> list[cells.Cell]:
        """(task folder, learner, run config) of every cell, in order."""
        from rewardrnn.training.config import LocalTrainConfig, SupervisedTrainConfig, TrainConfig
        from rewardrnn.training.perturbation_config import LocalRateTrainConfig, PerturbationTrainConfig

        found = []
        for task in self.tasks:
            budget, period = self.budget(task), self.period(task)
            common = dict(task=task, seed=self.first_seed, n_seeds=self.seeds, patience=0)
            updates = budget // TrainConfig(task=task).resolved().n_gradient
            configs = {"actor-critic": lambda: TrainConfig(**common, max_updates=updates),
                       "supervised": lambda: SupervisedTrainConfig(**common, max_updates=updates),
                       "perturbation": lambda: PerturbationTrainConfig(**common, n_trials=budget, chunk_trials=period),
                       "local": lambda: LocalTrainConfig(**common, max_updates=updates, track_alignment=True),
                       "local-rate": lambda: LocalRateTrainConfig(**common, n_trials=budget, chunk_trials=period,
                                                                  track_alignment=True)}
            found.extend((task, learner, configs[learner]()) for learner in self.learners)
        return found


def run(experiment: LearnersExperiment, out: Path | str, *, overwrite: bool = False,
        progress: bool = True) -> pd.DataFrame:
    """Train every cell into ``out`` (:func:`rewardrnn.experiments.cells.train_cells`: a finished
    cell is kept, an interrupted one resumed, one with other options refused unless
    ``overwrite``), compare the dynamics, write the tables, figures and page. Returns the
    results table."""
    out = Path(out)
    cells.train_cells(out, experiment.cells(), EXPERIMENT, overwrite=overwrite, progress=progress)
    return write_results(experiment, out, progress=progress)


# ---- dynamics ----------------------------------------------------------------------------------
def network_dynamics(folder: Path, seed: int, candidates: int, record_trials: int = DEFAULT_RECORD_TRIALS
                     ) -> tuple[dict, list[dict], np.ndarray]:
    """One trained network's dynamics: (row of ``dynamics.csv``, rows of ``fixedpoints.csv``, DMD
    spectrum), from the seed's records with ``record_trials`` trials per condition (made first
    unless the run's records are those) and ``rewardrnn fixedpoints`` on them (reused when the
    run's own file holds a search with the same candidates on those records)."""
    from rewardrnn import verbs
    from rewardrnn.analysis import fixedpoints as fp
    from rewardrnn.analysis import similarity
    from rewardrnn.records import ACTIVITY
    from rewardrnn.records.activity import open_activity
    from rewardrnn.training.run_folder import RunFolder

    run = RunFolder(folder)
    out = run.derived_path("analysis", f"seed{seed}")
    fresh = not _records_hold(run, seed, record_trials)
    if fresh:
        verbs.record(folder, trials_per_condition=record_trials, seed=seed)
    summary = None if fresh else _saved_fixed_points(out / "fixedpoints.json", run.identity["run_id"], candidates)
    if summary is None:
        summary, _ = verbs.fixedpoints(folder, seed=seed, candidates=candidates)
    with _open_points(out / "fixedpoints.nc") as points:
        kept = points["q"].values < summary["tiers"]["slow_q"]
        slowest = fp.eigenvalues(points)[:, 0]
        conditions = points["condition"].values.astype(str)
        dt_ms = float(points.attrs["dt_ms"])
    rotation = kept & (np.abs(slowest.imag) > ROTATION_IMAG)
    slow_rotation = rotation & (np.abs(np.abs(slowest) - 1) < fp.NEAR_ONE)
    with open_activity(verbs.records_dir(folder, seed) / ACTIVITY) as ds:
        rates = ds["rates"].values
    spectrum = similarity.dmd_spectrum(rates, dt_ms)
    rows = []
    for label, entry in summary["conditions"].items():
        mine = conditions == label
        rows.append({"condition": label, "n_fixed": entry["n_fixed"], "n_slow": entry["n_slow"],
                     **{st: entry["by_stability"].get(st, 0) for st in fp.STABILITY},
                     "rotational": int((rotation & mine).sum()), "slow_rotational": int((slow_rotation & mine).sum()),
                     "slowest_nontrivial_timescale_ms": entry.get("slowest_nontrivial_timescale_ms"),
                     "n_modes_near_1": entry.get("n_modes_near_1"),
                     "line_attractor_fraction": entry.get("line_attractor_fraction")})
    taus = [r["slowest_nontrivial_timescale_ms"] for r in rows if r["slowest_nontrivial_timescale_ms"] is not None]
    n_kept = int(kept.sum())
    network = {"points": n_kept, "n_fixed": summary["tiers"]["fixed"], "n_slow": summary["tiers"]["slow"],
               **{f"share_{st}": summary["by_stability"][st] / n_kept if n_kept else np.nan for st in fp.STABILITY},
               "share_rotational": rotation.sum() / n_kept if n_kept else np.nan,
               "share_slow_rotational": slow_rotation.sum() / n_kept if n_kept else np.nan,
               "slowest_nontrivial_timescale_ms": float(np.median(taus)) if taus else np.nan,
               "participation_ratio": similarity.participation_ratio(rates),
               "dmd_slowest_abs_eig": float(np.abs(spectrum[0]))}
    return network, rows, spectrum


def _open_points(path: Path):
    """The fixed-point dataset ``rewardrnn fixedpoints`` wrote at ``path`` (one-line error otherwise)."""
    import xarray as xr

    from rewardrnn.errors import RunFolderError

    try:
        return xr.open_dataset(path, engine="h5netcdf")
    except Exception as error:  # h5py/h5netcdf/xarray raise many kinds for a damaged file
        raise RunFolderError(f"{path} is missing, truncated or not a fixed-point dataset ({type(error).__name__}); "
                             f"run `rewardrnn fixedpoints` on the run again") from None


def _records_hold(run, seed: int, trials: int) -> bool:
    """Whether the run's records of ``seed`` are its own, of ``trials`` trials per condition."""
    from rewardrnn import verbs

    if not verbs.current_records(run, seed):
        return False
    try:
        return json.loads((verbs.records_dir(run.path, seed) / "identity.json").read_text()).get(
            "trials_per_condition") == trials
    except (OSError, ValueError):
        return False


def _saved_fixed_points(path: Path, run_id: str, candidates: int) -> dict | None:
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict) or saved.get("run_id") != run_id or saved.get("candidates") != candidates \
            or not path.with_suffix(".nc").is_file():
        return None
    return saved


def dynamics_tables(experiment: LearnersExperiment, out: Path, seeds: pd.DataFrame, progress: bool = False
                    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(dynamics.csv, fixedpoints.csv, spectra.csv, similarity.csv) over every network that
    reached its criterion."""
    networks, conditions, spectra = [], [], []
    reached = seeds[seeds["reached"]]
    for i, row in enumerate(reached.itertuples(), 1):
        if progress:
            print(f"dynamics {i}/{len(reached)}: {row.task} {row.cell} seed {row.seed}", flush=True)
        key = {"task": row.task, "learner": row.cell, "seed": int(row.seed)}
        network, rows, spectrum = network_dynamics(out / row.task / row.cell, int(row.seed), experiment.candidates,
                                                   experiment.record_trials)
        networks.append({**key, **network})
        conditions.extend({**key, **r} for r in rows)
        spectra.extend({**key, "mode": k, "real": float(e.real), "imag": float(e.imag), "abs": float(abs(e))}
                       for k, e in enumerate(spectrum))
    spectra = pd.DataFrame(spectra, columns=["task", "learner", "seed", "mode", "real", "imag", "abs"])
    return (pd.DataFrame(networks), pd.DataFrame(conditions), spectra, similarity_table(spectra))


def similarity_table(spectra: pd.DataFrame) -> pd.DataFrame:
    """One row per pair of networks of a task (each unordered pair once, also within a learner):
    the spectral distance between their DMD spectra."""
    from rewardrnn.analysis.similarity import spectral_distance

    rows = []
    for task, group in spectra.groupby("task", sort=False):
        eigs = {(learner, seed): g["real"].to_numpy() + 1j * g["imag"].to_numpy()
                for (learner, seed), g in group.groupby(["learner", "seed"], sort=False)}
        for (a, b) in itertools.combinations(eigs, 2):
            rows.append({"task": task, "learner_a": a[0], "seed_a": a[1], "learner_b": b[0], "seed_b": b[1],
                         "distance": spectral_distance(eigs[a], eigs[b])})
    return pd.DataFrame(rows, columns=["task", "learner_a", "seed_a", "learner_b", "seed_b", "distance"])


def similarity_summary(similarity: pd.DataFrame, learners: tuple[str, ...]) -> pd.DataFrame:
    """Per task and (unordered) pair of learners, a learner with itself included: pairs of
    networks, median and IQR of their spectral distance."""
    rows = []
    for task, group in similarity.groupby("task", sort=False):
        for i, a in enumerate(learners):
            for b in learners[i:]:
                mine = group[((group["learner_a"] == a) & (group["learner_b"] == b)) |
                             ((group["learner_a"] == b) & (group["learner_b"] == a))]["distance"]
                if len(mine):
                    q1, median, q3 = np.percentile(mine, [25, 50, 75])
                    rows.append({"task": task, "learner_a": a, "learner_b": b, "pairs": len(mine),
                                 "median_distance": median, "q25_distance": q1, "q75_distance": q3})
    return pd.DataFrame(rows, columns=["task", "learner_a", "learner_b", "pairs", "median_distance", "q25_distance",
                                       "q75_distance"])


def dynamics_summary(networks: pd.DataFrame) -> pd.DataFrame:
    """Per task and learner: networks analysed, and the median over them of each measure."""
    measures = [c for c in networks.columns if c not in ("task", "learner", "seed")]
    rows = []
    for (task, learner), group in networks.groupby(["task", "learner"], sort=False):
        rows.append({"task": task, "learner": learner, "networks": len(group),
                     **{m: float(group[m].median()) for m in measures}})
    return pd.DataFrame(rows)


# ---- results, figures, page --------------------------------------------------------------------
def write_results(experiment: LearnersExperiment, out: Path, progress: bool = False) -> pd.DataFrame:
    """results.csv, seeds.csv, the dynamics tables, summary.json, the figures and report.html
    from the cells in ``out``."""
    seeds = cells.seed_rows(out, experiment.cells())
    results = cells.summarise(seeds)
    cells.write_csv(out / "seeds.csv", seeds, None)
    cells.write_csv(out / "results.csv", results)
    figures: dict[str, tuple[Any, str]] = {}
    for task in experiment.tasks:
        budget = experiment.budget(task)
        curves = {learner: cells.learning_curves(out / task / learner, budget) for learner in experiment.learners}
        figures[f"{task}_learning_curves"] = (cells.curve_figure(task, curves, budget, dashed=()), CURVES_CAPTION)
        figures[f"{task}_trials_to_criterion"] = (cells.ttc_figure(task, seeds[seeds["task"] == task], budget),
                                                  TTC_CAPTION)
    summary: dict[str, Any] = {"experiment": EXPERIMENT, **cells.jsonable(dataclasses.asdict(experiment)),
                               "budget": {task: experiment.budget(task) for task in experiment.tasks},
                               "results": json.loads(results.to_json(orient="records"))}
    tables = None
    if experiment.dynamics:
        networks, conditions, spectra, similarity = dynamics_tables(experiment, out, seeds, progress)
        by_learner = dynamics_summary(networks) if len(networks) else pd.DataFrame()
        pairs = similarity_summary(similarity, experiment.learners)
        for name, table in (("dynamics", networks), ("fixedpoints", conditions), ("spectra", spectra),
                            ("similarity", similarity), ("dynamics_by_learner", by_learner),
                            ("similarity_by_learner", pairs)):
            cells.write_csv(out / f"{name}.csv", table, 6)
        summary["dynamics_by_learner"] = json.loads(by_learner.to_json(orient="records")) if len(by_learner) else []
        summary["similarity_by_learner"] = json.loads(pairs.to_json(orient="records"))
        tables = (by_learner, pairs)
        for task in experiment.tasks:
            if len(networks) and (networks["task"] == task).any():
                mine = networks[networks["task"] == task]
                figures[f"{task}_dynamics"] = (_dynamics_figure(task, mine, experiment.learners), DYNAMICS_CAPTION)
                figures[f"{task}_spectra"] = (_spectra_figure(task, spectra[spectra["task"] == task],
                                                              experiment.learners), SPECTRA_CAPTION)
                if len(pairs) and (pairs["task"] == task).any():
                    figures[f"{task}_similarity"] = (_similarity_figure(task, pairs[pairs["task"] == task],
                                                                        experiment.learners), SIMILARITY_CAPTION)
    run_folder.write_json(out / "summary.json", summary)
    for name, (fig, _) in figures.items():
        save_figure(fig, out, name, dpi=110)
    _write_page(experiment, results, tables, figures, out)
    return results


def _present(learners: tuple[str, ...], table: pd.DataFrame) -> list[str]:
    return [learner for learner in learners if (table["learner"] == learner).any()]


def _dynamics_figure(task: str, networks: pd.DataFrame, learners: tuple[str, ...]):
    import matplotlib.pyplot as plt

    from rewardrnn.analysis.fixedpoints import STABILITY

    present = _present(learners, networks)
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
    for ax, column, label in ((axes[0], "participation_ratio", "participation ratio (dimensions)"),
                              (axes[1], "slowest_nontrivial_timescale_ms", "slowest time constant (ms)")):
        for i, learner in enumerate(present):
            y = networks.loc[networks["learner"] == learner, column].to_numpy(float)
            ax.scatter(i + np.linspace(-0.12, 0.12, len(y)), y, s=16, color=f"C{learners.index(learner)}")
            ax.hlines(np.nanmedian(y), i - 0.25, i + 0.25, color="k", lw=1.2)
        ax.set_xticks(range(len(present)), present, fontsize=8)
        ax.set(ylabel=label, xlim=(-0.6, len(present) - 0.4))
    axes[1].set_yscale("log")
    bottom = np.zeros(len(present))
    for k, st in enumerate(STABILITY):
        share = np.array([networks.loc[networks["learner"] == learner, f"share_{st}"].mean() for learner in present])
        share = np.nan_to_num(share)
        axes[2].bar(range(len(present)), share, bottom=bottom, width=0.6, color=STABILITY_COLOURS[st], label=st)
        bottom += share
    axes[2].set_xticks(range(len(present)), present, fontsize=8)
    axes[2].set(ylabel="share of fixed and slow points", ylim=(0, 1.3), xlim=(-0.6, len(present) - 0.4))
    axes[2].legend(frameon=False, fontsize=7, loc="upper center", ncol=4)
    fig.suptitle(f"{task}: the trained networks' dynamics, by learner", fontsize=10)
    fig.tight_layout()
    return fig


def _spectra_figure(task: str, spectra: pd.DataFrame, learners: tuple[str, ...]):
    import matplotlib.pyplot as plt

    present = _present(learners, spectra)
    fig, axes = plt.subplots(1, len(present), figsize=(max(4.6, 3.4 * len(present)), 3.6), squeeze=False)
    angle = np.linspace(0, 2 * np.pi, 400)
    # zoomed on the eigenvalues (trained networks' are near 1), the unit circle drawn where it passes
    left = min(float(spectra["real"].min()) - 0.05, 0.8)
    half = max(float(spectra["imag"].abs().max()) + 0.05, (1.05 - left) / 2)
    for ax, learner in zip(axes[0], present):
        ax.plot(np.cos(angle), np.sin(angle), color="0.6", lw=0.8)
        for j, (_, group) in enumerate(spectra[spectra["learner"] == learner].groupby("seed")):
            ax.scatter(group["real"], group["imag"], s=12, color=f"C{j % 10}", alpha=0.8)
        ax.set(title=learner, xlabel="Re lambda", ylabel="Im lambda", xlim=(left, 1.05), ylim=(-half, half))
    fig.suptitle(f"{task}: DMD eigenvalues per 10-ms step", fontsize=10)
    fig.tight_layout()
    return fig


def _similarity_figure(task: str, pairs: pd.DataFrame, learners: tuple[str, ...]):
    import matplotlib.pyplot as plt

    present = [learner for learner in learners if ((pairs["learner_a"] == learner) | (pairs["learner_b"] == learner)).any()]
    grid = np.full((len(present), len(present)), np.nan)
    for r in pairs.itertuples():
        i, j = present.index(r.learner_a), present.index(r.learner_b)
        grid[i, j] = grid[j, i] = r.median_distance
    fig, ax = plt.subplots(figsize=(4.6, 3.9))
    image = ax.imshow(grid, cmap="viridis")
    middle = np.nanmean([np.nanmin(grid), np.nanmax(grid)])
    for i, j in itertools.product(range(len(present)), repeat=2):
        if np.isfinite(grid[i, j]):  # dark text on the bright (large) cells, white on the dark ones
            ax.text(j, i, f"{grid[i, j]:.3f}", ha="center", va="center", fontsize=9,
                    color="k" if grid[i, j] > middle else "w")
    ax.set_xticks(range(len(present)), present, fontsize=8)
    ax.set_yticks(range(len(present)), present, fontsize=8)
    fig.colorbar(image, ax=ax, label="median spectral distance")
    ax.set_title(f"{task}: dynamical similarity", fontsize=10)
    fig.tight_layout()
    return fig


def _write_page(experiment: LearnersExperiment, results: pd.DataFrame, tables, figures: dict, out: Path) -> None:
    from rewardrnn.figures.html import html_table

    def num(x, digits=2):
        return "" if x is None or pd.isna(x) else f"{x:,.{digits}f}"

    budgets = ", ".join(f"{task} {experiment.budget(task):,}" for task in experiment.tasks)
    body = (f"<p>{experiment.seeds} seeds per cell (seeds {experiment.first_seed}-"
            f"{experiment.first_seed + experiment.seeds - 1}), the same trial budget per seed for every learner "
            f"({budgets} trials), the paper's criterion on validation trials in which the network acts, no stall "
            f"restarts. Median and IQR over the seeds that reached the criterion.</p>"
            + html_table(cells.results_rows(results), cells.RESULTS_HEADER))
    if tables is not None:
        by_learner, pairs = tables
        if len(by_learner):
            rows = [(r.task, r.learner, str(r.networks), num(r.participation_ratio), num(r.points, 0),
                     num(r.share_stable), num(r.share_saddle), num(r.share_marginal), num(r.share_rotational),
                     num(r.share_slow_rotational), num(r.slowest_nontrivial_timescale_ms, 0))
                    for r in by_learner.itertuples()]
            body += ("<h2>Dynamics of the networks at criterion (medians over networks)</h2>" + html_table(
                rows, ("task", "learner", "networks", "participation ratio", "fixed + slow points", "stable", "saddle",
                       "marginal", "rotational", "slow rotational", "slowest time constant (ms)"))
                + f"<p>Each network recorded on {experiment.record_trials} trials per condition; fixed and slow "
                  f"points from {experiment.candidates:,} candidates per network (q below 1e-4 "
                  "squared state units per step); types as shares of those points; rotational: the slowest "
                  "non-trivial mode is a complex pair; slow rotational: and within 0.01 of |lambda| = 1.</p>")
        if len(pairs):
            rows = [(r.task, r.learner_a, r.learner_b, str(r.pairs), num(r.median_distance, 3),
                     f"{num(r.q25_distance, 3)}-{num(r.q75_distance, 3)}") for r in pairs.itertuples()]
            body += ("<h2>Dynamical similarity</h2>" + html_table(
                rows, ("task", "learner", "learner", "pairs of networks", "median distance", "IQR"))
                + "<p>Spectral distance between DMD operators (see rewardrnn.analysis.similarity): a learner with itself "
                  "is the spread between its seeds, the baseline for a difference between learners.</p>")
    cells.page("learning rules compared", "Learning rules on equal terms", body, figures, out)
