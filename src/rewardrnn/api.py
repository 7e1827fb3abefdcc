"""The Python API: the same verbs as the command line.

>>> import rewardrnn
>>> result = rewardrnn.train("rdm-fixed", seed=1, out="runs/rdm")      # doctest: +SKIP
>>> table = rewardrnn.evaluate("runs/rdm", trials_per_condition=200)   # doctest: +SKIP
>>> paths = rewardrnn.plot("runs/rdm")                                 # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from rewardrnn.tasks import files as task_files
from rewardrnn.tasks import trust as _trust
from rewardrnn.tasks.protocol import Protocol
from rewardrnn.training.kinds import kind_for
from rewardrnn.training.run import TrainResult
from rewardrnn.training import kinds as _kinds
from rewardrnn.training.run import train as _train
from rewardrnn.training.run_folder import RunFolder
from rewardrnn.verbs import analyze, evaluate, evaluation_report, fixedpoints, plot, record  # noqa: F401  (the API)


def train(task: str | Protocol = "rdm-fixed", out: str | Path = "runs/run", *, learner: str | None = None,
          resume: bool = False, overwrite: bool = False, progress: bool = True, **options: Any) -> TrainResult:
    """Train ``task`` into the run folder ``out`` with its learner (``learner`` to name it).

    ``task`` is a registered name, a task file (``"path/to/my_task.py:MY_TASK"``) or a
    :class:`~rewardrnn.tasks.Protocol` object held by a module-level name of a ``.py`` file (the
    run folder records that file, so that every verb can load the task again). A variant is
    ``task_settings={"stimulus.duration": "uniform(300, 700)", ...}``
    (:mod:`rewardrnn.tasks.variants`).
    Song's tasks with the actor-critic (or, ``learner="perturbation"``, Miconi's rule with the rate
    network acting), Miconi's with the perturbation rule, ``ngym:<id>`` with the actor-critic on
    NeuroGym. ``options`` are the fields of the kind's config
    (:class:`~rewardrnn.training.TrainConfig`: ``seed``, ``n_seeds``, ``dt_ms``, ``N``, ``lr``...;
    :class:`~rewardrnn.training.PerturbationTrainConfig`: ``n_trials``, ``nonlinearity``...;
    :class:`~rewardrnn.training.NeuroGymTrainConfig`); an option of another learner is refused by
    name."""
    if isinstance(task, Protocol):
        task = task_files.locate(task)
    if task_files.is_task_file(task) and task_files.split(task)[0].is_file():
        trust(task_files.split(task)[0])  # the caller named the file: an act of trust
    network = options.pop("network", None)  # which family the kind trains (the local rule: gated or rate)
    kind = kind_for(task, learner, network)
    kind.check_fields(options)
    return _train(kind.config_class(task=task, **options), out, resume=resume, overwrite=overwrite, progress=progress)


train.__doc__ += """

    Options by kind, as Python keyword (command-line flag); ``task_options.NAME`` is the key of
    ``task_options``, ``task_settings`` is ``--set``:

""" + _kinds.options_table() + "\n"


def perturb(run: str | Path, *, silence=(), cut=(), stimulate=(), noise: float = 0.0, during: str | None = None,
            seed: int | None = None, trials_per_condition: int = 200, manipulation_seed: int = 0,
            name: str | None = None, overwrite: bool = False, network: str = "decision") -> dict:
    """``rewardrnn perturb`` from Python: run the trained network of ``seed`` intact and under
    a manipulation on the same trials and write ``RUN/perturbations/NAME/``
    (:mod:`rewardrnn.perturbations`). ``silence``: unit groups; ``cut``: cut strings;
    ``stimulate``: ``"GROUP=AMPLITUDE"`` strings; ``noise``: extra variance; ``during``:
    comma-separated epochs; ``network``: ``decision`` or ``value``. Returns the summary (also in
    ``summary.json``)."""
    from rewardrnn.perturbations import perturb as _perturb
    from rewardrnn.manipulation.spec import Manipulation

    as_tuple = lambda v: (v,) if isinstance(v, str) else tuple(v)  # noqa: E731
    manipulation = Manipulation.from_options(silence=as_tuple(silence), cut=as_tuple(cut),
                                             stimulate=as_tuple(stimulate), noise=noise, during=during,
                                             seed=manipulation_seed, network=network)
    return _perturb(run, manipulation, seed=seed, trials_per_condition=trials_per_condition, name=name,
                    overwrite=overwrite)[0]


def load_run(run: str | Path, trust_code: bool = False) -> RunFolder:
    """The run folder ``run``: ``.config`` (as given), ``.resolved``, ``.learner``, ``.state``
    (every seed's checkpointed state), ``.best_params(seed)``, ``.summary()``. A run trained on a
    task file opens only if you trust that file (:func:`trust`); ``trust_code=True`` trusts the
    one the run names (after you have read it: it is code)."""
    with _trust.trusting() if trust_code else contextlib.nullcontext():
        return RunFolder(run)


def trust(path: str | Path) -> str:
    """Trust the task file ``path`` (its exact content; :mod:`rewardrnn.tasks.trust`): every verb
    may then import it. Returns its SHA-256."""
    return _trust.trust(path)
