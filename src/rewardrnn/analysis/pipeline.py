"""The record / analyze verbs on run folders (both learners).

Layout under a run folder::

    RUN/records/seed{S}/trials.csv     behaviour table of the recorded trials (or .parquet)
    RUN/records/seed{S}/activity.nc    activity dataset (xarray / NetCDF)
    RUN/analysis/seed{S}/*.png, *.svg  figures
    RUN/analysis/seed{S}/numbers.json  the numbers, with the paper's values where it gives them

Song tasks' behavioural analyses use a separate, larger behaviour-only run (``evaluate``,
``RUN/evaluation/trials_seed{S}.csv``), since they need many trials and no activity.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import matplotlib.pyplot as plt
import pandas as pd

from rewardrnn.analysis import activity, miconi_suite, song_suite
from rewardrnn.errors import ConfigError, RunFolderError
from rewardrnn.training import checkpoint, run_folder
from rewardrnn.training.config import TrainConfig

#: Trials per condition of pyrl's analysis runs (spec §6.1): (behaviour, activity). The economic
#: task records 100 per condition rather than 500 (its 20 conditions x 500 trials of 350 steps
#: would take longer to record than to train); Miconi's decoding used 20 per condition.
PAPER_TRIALS_PER_CONDITION = {"rdm-fixed": (5000, 50), "rdm-rt": (2500, 50), "mante": (1000, 100),
                              "multisensory": (1500, 100), "romo": (100, 50), "wager": (2500, 100),
                              "economic": (500, 100)}
MICONI_TRIALS_PER_CONDITION = {"selective-integration": 2}
MICONI_DEFAULT_TRIALS = 20

#: Key streams of records (independent of training and of ``evaluate``'s).
RECORD_SEED = 2


def records_dir(run: Path, seed: int) -> Path:
    return Path(run) / "records" / f"seed{seed}"


def _seed(config, seed: int | None) -> tuple[int, int]:
    seeds = config.seeds
    if seed is None:
        return 0, seeds[0]
    if seed not in seeds:
        raise ConfigError(f"seed {seed} was not trained in this run; its seeds are {seeds}")
    return seeds.index(seed), seed


def default_trials_per_condition(config) -> int:
    if isinstance(config, TrainConfig):
        return PAPER_TRIALS_PER_CONDITION.get(config.task, (1000, 50))[1]
    return MICONI_TRIALS_PER_CONDITION.get(config.task, MICONI_DEFAULT_TRIALS)


def record(run: str | Path, trials_per_condition: int | None = None, seed: int | None = None,
           table_format: str = "csv") -> tuple[pd.DataFrame, Path]:
    """Run the trained model of ``seed`` over the task's condition grid (best parameters for the
    actor-critic, final weights for Miconi's rule) and write ``records/seed{S}/trials.<fmt>`` and
    ``activity.nc``. Returns (behaviour table, dataset path)."""
    run = Path(run)
    if table_format not in ("csv", "parquet"):
        raise ConfigError(f"table format must be 'csv' or 'parquet', got {table_format!r}")
    config = run_folder.read_config(run)
    n = default_trials_per_condition(config) if trials_per_condition is None else trials_per_condition
    if not (isinstance(n, int) and n >= 1):
        raise ConfigError(f"trials per condition must be an integer >= 1, got {n!r}")
    i, s = _seed(config, seed)
    out = records_dir(run, s)
    key = jax.random.PRNGKey(RECORD_SEED)
    if isinstance(config, TrainConfig):
        from rewardrnn.api import load_run
        _, learner, state = load_run(run)
        pick = lambda tree: jax.tree_util.tree_map(lambda a: a[i], tree)  # noqa: E731
        params = (pick(state.best_policy), pick(state.learner.policy_masks), pick(state.learner.value),
                  pick(state.learner.value_masks))
        table = activity.record(learner, params, key, n, out / activity.ACTIVITY)
    else:
        from rewardrnn.training.perturbation_run import initial_states
        cfg = config.resolved()
        learner = cfg.build()
        states, _ = checkpoint.load(run / run_folder.CHECKPOINT, initial_states(cfg, learner))
        params = jax.tree_util.tree_map(lambda a: a[i], states.params)
        table = miconi_suite.record(learner, params, key, n, out / activity.ACTIVITY)
    write_table(table, out / f"trials.{table_format}")
    return table, out / activity.ACTIVITY


def write_table(table: pd.DataFrame, path: Path) -> None:
    """CSV or Parquet (by suffix), written to a temporary name first."""
    tmp = path.with_name(path.name + ".partial")
    if path.suffix == ".parquet":
        try:
            table.to_parquet(tmp, index=False)
        except ImportError as error:
            raise ConfigError(f"Parquet needs pyarrow ({error}); `pip install pyarrow` or use csv") from None
    else:
        table.to_csv(tmp, index=False)
    tmp.replace(path)


def analyze(run: str | Path, seed: int | None = None, behaviour_trials: int | None = None,
            n_splits: int = 100) -> tuple[song_suite.Analysis, Path]:
    """Every analysis that fits the run's task, on its records (made with the defaults first if
    missing); figures (PNG and SVG) and ``numbers.json`` under ``RUN/analysis/seed{S}/``.
    ``behaviour_trials``: trials per condition of the Song tasks' behaviour table (default:
    the paper's, spec §6.1); ``n_splits``: splits of Miconi's cross-temporal decoding."""
    run = Path(run)
    config = run_folder.read_config(run)
    i, s = _seed(config, seed)
    started = time.perf_counter()
    path = records_dir(run, s) / activity.ACTIVITY
    if not path.is_file():
        record(run, seed=s)
    ds = activity.open_activity(path) if isinstance(config, TrainConfig) else _open(path)
    if isinstance(config, TrainConfig):
        table = _behaviour_table(run, config, s, behaviour_trials)
        result = song_suite.analyze(config.protocol(), table, ds)
    else:
        result = miconi_suite.analyze(config.task, ds, n_splits=n_splits)
    ds.close()
    out = Path(run) / "analysis" / f"seed{s}"
    out.mkdir(parents=True, exist_ok=True)
    for name, fig in result.figures.items():
        for ext in ("png", "svg"):
            fig.savefig(out / f"{name}.{ext}", dpi=120)
        plt.close(fig)
    result.numbers["analysis_wall_s"] = round(time.perf_counter() - started, 2)
    run_folder.write_json(out / "numbers.json", {"task": config.task, "seed": s, "numbers": result.numbers,
                                                 "paper": result.paper, "figures": list(result.figures)})
    return result, out


def _open(path: Path):
    import xarray as xr
    return xr.open_dataset(path, engine="h5netcdf")


def _behaviour_table(run: Path, config: TrainConfig, seed: int, trials_per_condition: int | None) -> pd.DataFrame:
    from rewardrnn.api import evaluate
    n = trials_per_condition or PAPER_TRIALS_PER_CONDITION.get(config.task, (1000, 50))[0]
    path = run / "evaluation" / f"trials_seed{seed}.csv"
    expected = n * config.protocol().n_conditions
    if path.is_file():
        table = pd.read_csv(path)
        if len(table) >= expected:
            table["choice"] = table["choice"].fillna("")
            return table
    return evaluate(run, trials_per_condition=n, seed=seed)


def read_numbers(run: Path, seed: int) -> dict:
    path = Path(run) / "analysis" / f"seed{seed}" / "numbers.json"
    if not path.is_file():
        raise RunFolderError(f"{path} is missing; run `rewardrnn analyze {run}` first")
    import json
    return json.loads(path.read_text())
